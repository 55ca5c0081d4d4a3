#!/usr/bin/env bash
# Sync over HTTP on loopback (issue 4 bars), against borg and restic on the same input, one run.
# Usage: bench/run-sync.sh [WORKDIR] (default /tmp/merklesync-sync). Needs python3; installs
# rsync, restic and borgbackup from Debian if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/merklesync-sync}
mkdir -p "$work"
for tool in rsync restic borg; do command -v $tool >/dev/null || { apt-get update -qq; apt-get install -y -qq rsync restic borgbackup >/dev/null; break; }; done
cli=$("$root/bench/publish-cli.sh")
dotnet build "$root/bench/MerkleSync.Bench" -c Release -v q -nologo >/dev/null
ms="$cli"
bench="dotnet $root/bench/MerkleSync.Bench/bin/Release/net10.0/MerkleSync.Bench.dll"
set_dir="$work/set"
[ -d "$set_dir/v1" ] || python3 "$root/../shared/bench/gen_versions.py" "$set_dir" --size 1GiB --seed 7 >/dev/null
ideal=$($bench ideal "$set_dir/v1" "$set_dir/v2" | python3 -c "import json,sys; print(json.load(sys.stdin)['ideal_new_chunk_bytes'])")
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
timed() { /usr/bin/time -f "%e %M" -o "$1" "${@:2}"; }   # wall seconds, peak RSS KiB

port=18490
rm -rf "$work/server" "$work/work" "$work/pull"
$ms serve --root "$work/server" --listen "http://127.0.0.1:$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
remote="http://127.0.0.1:$port/ds"
$ms init "$remote" >/dev/null
cp -a "$set_dir/v1" "$work/work"
timed "$work/push1.time" $ms push "$work/work" "$remote" --json > "$work/push1.json"
rsync -a --delete --exclude .merklesync "$set_dir/v2/" "$work/work/"
timed "$work/push2.time" $ms push "$work/work" "$remote" --json > "$work/push2.json"
timed "$work/pull.time" $ms pull "$remote" "$work/pull" --version "$(field "$work/push1.json" record)" --json > "$work/pull.json"
server_rss=$(ps -o rss= -p "$(pgrep -f "serve --root $work/server" | head -1)" || echo 0)
diff -r --exclude .merklesync "$set_dir/v1" "$work/pull" >/dev/null || { echo "pull differs from v1" >&2; exit 1; }

rm -rf "$work/borg" "$work/restic"; export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes RESTIC_PASSWORD=bench
borg init -e none "$work/borg"
(cd "$set_dir/v1" && timed "$work/borg.time" borg create -C none "$work/borg::v1" .)
restic init -q -r "$work/restic" >/dev/null
(cd "$set_dir/v1" && timed "$work/restic.time" restic backup -q -r "$work/restic" .)

read -r p1 p1rss < "$work/push1.time"; read -r p2 p2rss < "$work/push2.time"; read -r pl plrss < "$work/pull.time"
read -r bt _ < "$work/borg.time"; read -r rt _ < "$work/restic.time"
sent2=$(field "$work/push2.json" wire_bytes_sent); recv2=$(field "$work/push2.json" wire_bytes_received)
echo "date: $(date -u +%Y-%m-%d), machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), dotnet $(dotnet --version), $(restic version | cut -d' ' -f1-2), $(borg --version)"
echo
echo "| measure | value | bar |"
echo "| --- | --- | --- |"
echo "| push v1 over HTTP (1 GiB, server verifies every chunk) | ${p1} s | ≤ 0.75x borg ($(python3 -c "print(f'{0.75*$bt:.2f}')") s), ≤ 0.5x restic ($(python3 -c "print(f'{0.5*$rt:.2f}')") s) |"
echo "| borg create -C none / restic backup of v1 | ${bt} s / ${rt} s | |"
echo "| push v1 / borg, push v1 / restic | $(python3 -c "print(f'{$p1/$bt:.2f}x / {$p1/$rt:.2f}x')") | 0.75x / 0.5x |"
echo "| push v2: bytes over the wire (sent + received) | $(python3 -c "print(f'{($sent2+$recv2)/1e6:.2f} MB = {($sent2+$recv2)/$ideal:.2f}x the chunk-level ideal ({$ideal/1e6:.2f} MB)')") | ≤ 1.25x |"
echo "| push v2 time | ${p2} s | |"
echo "| pull v1 into an empty directory | ${pl} s = $(python3 -c "print(f'{1073741824/$pl/1e6:.0f}')") MB/s | ≥ 600 MB/s |"
echo "| peak RSS: push v1 / pull / server after the run | $((p1rss/1024)) / $((plrss/1024)) / $((server_rss/1024)) MB | < 300 MB |"
