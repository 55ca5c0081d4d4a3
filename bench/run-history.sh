#!/usr/bin/env bash
# Upkeep over a long history: a file:// repository holding VERSIONS versions of FILES small files,
# each version changing 10 of them, then `gc --dry-run`, `verify` (in process and over HTTP) and
# `log`, with wall time and peak RSS. What each costs should follow what the versions hold apart,
# not their number times the dataset's size.
# Usage: bench/run-history.sh [--files 100000] [--versions 50] [--work /tmp/merklesync-history] [--cli PATH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=100000 versions=50 work=/tmp/merklesync-history cli=
while [ $# -gt 0 ]; do
  case $1 in
    --files) files=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ms=${cli:-$("$root/bench/publish-cli.sh")}
mkdir -p "$work"
data="$work/data" repo="$work/repo"
rm -rf "$data" "$repo"
# The files compare.sh uses for its small-file case: 1-16 KiB of random bytes in 100 folders.
python3 - "$data" "$files" <<'PY'
import os, random, sys
folder, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(11)
for i in range(count):
    path = os.path.join(folder, f"d{i % 100:02d}", f"f{i:06d}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 16384)))
PY
$ms init "file://$repo" >/dev/null
$ms push "$data" "file://$repo" -q -m v0
for v in $(seq 1 "$versions"); do
  python3 - "$data" "$v" <<'PY'
import os, random, sys
folder, v = sys.argv[1], int(sys.argv[2])
rng = random.Random(v)
for j in range(10):
    with open(os.path.join(folder, f"d{j:02d}", f"new-{v:04d}-{j}.bin"), "wb") as f:
        f.write(rng.randbytes(5000))
PY
  $ms push "$data" "file://$repo" -q -m "v$v"
done

echo "$((versions + 1)) versions of $files files ($(du -sh "$repo" | cut -f1) repository):"
timed() {
  /usr/bin/time -f "  %e s, peak RSS %M KiB: merklesync $*" $ms "$@" > /dev/null 2> "$work/stderr" || { cat "$work/stderr"; exit 1; }
  tail -1 "$work/stderr"
}
timed gc "file://$repo" --dry-run --grace 0s
timed verify "file://$repo"
timed log "file://$repo" -n 1000
# Over HTTP last: the server holds the repository's database from its first request on.
port=18495
$ms serve --root "$work" --listen "http://127.0.0.1:$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
timed verify "http://127.0.0.1:$port/repo"
