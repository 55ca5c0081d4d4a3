#!/usr/bin/env bash
# Regenerates src/MerkleSync.Cli/ReadyToRun/commands.mibc, the profile that names for crossgen2 the
# generic code the commands instantiate across assemblies (async state machines of our types in
# the framework's method builders, Polly's pipeline over the HTTP handler's state, LINQ over our
# value types): crossgen2 does not find it by itself, so without the profile the JIT compiles it
# at every start. Publishes the CLI without the profile, runs the common commands against a local
# server with the runtime's JIT events traced, and writes the methods the JIT compiled.
# Run it after changes to the code the commands run (a stale profile only compiles less ahead of time).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
# The benchmarks' build without the profile. An image compiled with the profile, left in obj/,
# would be reused and trace only what the profile lacks.
rm -rf "$root"/src/MerkleSync.Cli/obj/Release/net10.0/*/R2R
ms=$("$root/bench/publish-cli.sh" -p:ReadyToRunProfile=false)
python3 "$root/../shared/bench/gen_versions.py" "$work/set" --size 256MiB --seed 7 >/dev/null

export DOTNET_EventPipeConfig="Microsoft-Windows-DotNETRuntime:0x18:5" # JIT and loader events, verbose
traced() { # NAME COMMAND...: the command, its JIT events traced to NAME.nettrace
  DOTNET_EnableEventPipe=1 DOTNET_EventPipeOutputPath="$work/$1.nettrace" "${@:2}" > /dev/null
}
# The server too: what it compiles while the first push runs takes a core from the client.
port=18479
DOTNET_EnableEventPipe=1 DOTNET_EventPipeOutputPath="$work/server.nettrace" \
  "$ms" serve --root "$work/server" --listen "http://127.0.0.1:$port" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
remote="http://127.0.0.1:$port/ds"
traced init "$ms" init "$remote"
cp -a "$work/set/v1" "$work/data"
traced push-first "$ms" push "$work/data" "$remote" --quiet
traced push-unchanged "$ms" push "$work/data" "$remote" --quiet
traced status "$ms" status "$work/data"
rsync -a --exclude .merklesync "$work/set/v2/" "$work/data/"
traced push-changed "$ms" push "$work/data" "$remote" --quiet --json
traced pull-new "$ms" pull "$remote" "$work/pulled" --quiet --json
traced log "$ms" log "$remote"
traced diff "$ms" diff "$remote" main~1 main
traced verify "$ms" verify "$remote"
kill "$server" && wait "$server" || true # SIGTERM: the server stops cleanly and closes its trace
server=
dotnet run --project "$root/tools/r2r-profile" -c Release -- "$root/src/MerkleSync.Cli/ReadyToRun/commands.mibc" "$work"/*.nettrace
