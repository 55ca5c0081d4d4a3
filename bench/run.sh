#!/usr/bin/env bash
# Runs the speed benchmarks of docs/benchmarks.md in one go, so every ratio compares figures taken
# in the same run on the same machine. Usage: bench/run.sh [WORKDIR] (default /tmp/merklesync-bench).
# Needs python3 (shared/bench/gen_versions.py) and b3sum (installed from Debian if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/merklesync-bench}
mkdir -p "$work"
command -v b3sum >/dev/null || { apt-get update -qq && apt-get install -y -qq b3sum >/dev/null; }

dotnet build "$root/bench/MerkleSync.Bench" -c Release -v q -nologo >/dev/null
dotnet build "$root/src/MerkleSync.Cli" -c Release -v q -nologo >/dev/null
bench="dotnet $root/bench/MerkleSync.Bench/bin/Release/net10.0/MerkleSync.Bench.dll"
cli="dotnet $root/src/MerkleSync.Cli/bin/Release/net10.0/merklesync.dll"

file="$work/random-1GiB.bin"
[ -f "$file" ] || python3 -c "
import random, sys
r = random.Random(7)
with open(sys.argv[1], 'wb') as f:
    for _ in range(256): f.write(r.randbytes(4 << 20))" "$file"
gen="$root/../shared/bench/gen_versions.py"
[ -d "$work/set/v1" ] || python3 "$gen" "$work/set" --size 1GiB --seed 7 >/dev/null

# Best wall time of three runs of a command, in seconds.
best() { local b=999999; for _ in 1 2 3; do local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{print ($1 < b) ? $1 : b}'); done; echo "$b"; }
# CPU seconds (user+sys) over wall seconds for one run.
cores() { /usr/bin/time -f "%U %S %e" "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.2f", ($1 + $2) / $3}'; }

echo "date: $(date -u +%Y-%m-%d), machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "dotnet $(dotnet --version), $(b3sum --version)"
echo
echo "| stage (1 GiB random file, in page cache) | throughput | best of 3 | CPU |"
echo "| --- | --- | --- | --- |"
$bench throughput "$file"
echo
bytes=$(stat -c %s "$file")
t1=$(best b3sum --num-threads 1 "$file"); tn=$(best b3sum "$file"); tm=$(best $cli hash "$file")
echo "| command on the same 1 GiB file | best of 3 | GB/s | vs b3sum 1 thread |"
echo "| --- | --- | --- | --- |"
for row in "b3sum --num-threads 1|$t1" "b3sum (all threads)|$tn" "merklesync hash (process start included)|$tm"; do
  name=${row%%|*}; t=${row##*|}
  echo "| $name | $(printf %.3f "$t") s | $(echo "$bytes / $t / 1000000000" | bc -l | xargs printf %.2f) | $(echo "$t1 / $t" | bc -l | xargs printf %.2f)x |"
done
echo
echo "snapshot of the gen_versions.py 1 GiB v1 set (seed 7):"
$bench directory "$work/set/v1"
echo "merklesync snapshot: $(best $cli snapshot "$work/set/v1") s wall, $(cores $cli snapshot "$work/set/v1") cores busy"
