#!/usr/bin/env bash
# Publishes the CLI (which also runs the server) as a release is built: self-contained, with the app
# and the .NET framework compiled ahead of time into one ReadyToRun composite image for this
# machine, so the benchmarks time neither the JIT nor generic code the framework-dependent build
# had to compile at start-up (a no-change push of 100k files: 1.45-1.60 -> 0.9-1.2 s; a 1 GiB
# push: 10.5 -> 8.3-9.2 s on the VM of 2026-12-01). The first run downloads the runtime packs.
# Prints the path of the merklesync executable. Arguments go on to dotnet publish (e.g. -p:ReadyToRunProfile=false).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -1) ;;
esac
out="$root/artifacts/cli-$rid"
rm -rf "$out"
dotnet publish "$root/src/MerkleSync.Cli" -c Release -r "$rid" --self-contained true \
  -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -o "$out" -v q -nologo "$@" >/dev/null
echo "$out/merklesync"
