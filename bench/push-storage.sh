#!/usr/bin/env bash
# Where the server's storage weighs in a push (docs/benchmarks.md, forty-second session): pushes of
# the 1 GiB v1 to a fresh loopback server, in turn, with
#   disk       the whole repository under WORKDIR (as compare.sh runs it);
#   packs-ram  its packs and upload folder moved to tmpfs after `init` (RocksDB stays under WORKDIR);
#   index-ram  its RocksDB moved to tmpfs (packs stay under WORKDIR);
#   upload     everything under WORKDIR, but the client's stat cache warm from a first push, and the
#              timed push going to a second dataset: nothing is hashed, everything is sent.
# Prints each push's own time ("seconds" of `push --json`), then the medians.
# Usage: bench/push-storage.sh [--runs N] [WORKDIR] (default 3 runs, /tmp/merklesync-storage).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=3
[ "${1:-}" = "--runs" ] && { runs=$2; shift 2; }
work=${1:-/tmp/merklesync-storage}
ram=${RAM_DIR:-/dev/shm}/merklesync-storage-$$
mkdir -p "$work" "$ram"
cli=$("$root/bench/publish-cli.sh")
set_dir="$work/set"
[ -d "$set_dir/v1" ] || python3 "$root/../shared/bench/gen_versions.py" "$set_dir" --size 1GiB --seed 7 >/dev/null
port=18495
server=
stop() { [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=; }
start() {
  "$cli" serve --root "$work/server" --listen "http://127.0.0.1:$port" > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "the server did not start (see $work/server.log)" >&2; exit 1
}
trap 'stop; rm -rf "$ram"' EXIT

# Moves a folder of dataset $1 to tmpfs and links it back, while no server runs.
to_ram() { mv "$work/server/$1/$2" "$ram/$1-$2"; ln -s "$ram/$1-$2" "$work/server/$1/$2"; }

one() {
  local mode=$1
  stop; rm -rf "$work/server" "$work/work" "$ram"/*
  start
  "$cli" init "http://127.0.0.1:$port/ds" >/dev/null
  "$cli" init "http://127.0.0.1:$port/ds2" >/dev/null
  cp -a "$set_dir/v1" "$work/work"
  local target=ds
  case $mode in
    packs-ram) stop; mkdir -p "$work/server/ds/packs" "$work/server/ds/tmp"; to_ram ds packs; to_ram ds tmp; start ;;
    index-ram) stop; to_ram ds index; start ;;
    upload) "$cli" push "$work/work" "http://127.0.0.1:$port/ds" --json >/dev/null; target=ds2 ;;
  esac
  sync; sleep 1
  "$cli" push "$work/work" "http://127.0.0.1:$port/$target" --json > "$work/push.json"
  result=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds'])" "$work/push.json")
}

declare -A times
result=
for run in $(seq 1 "$runs"); do
  for mode in disk packs-ram index-ram upload; do
    one $mode # not in a subshell: it keeps the server's pid
    times[$mode]="${times[$mode]:-} $result"
    echo "run $run $mode $result s"
  done
done
stop
echo "date: $(date -u +%Y-%m-%d), machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), work on $(df --output=fstype "$work" | tail -1)"
for mode in disk packs-ram index-ram upload; do
  echo "$mode median $(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" ${times[$mode]}) s (runs:${times[$mode]})"
done
