#!/usr/bin/env bash
# Compares two builds (or one build with and without some environment) on pushes of the 1 GiB v1 to
# a fresh loopback server, in ABBA order so that neither always runs first, and prints each round,
# the medians (push seconds, client and server CPU-seconds) and the median of the paired differences
# B - A. On the shared VMs one push varies by +-10%, more than most changes move it: compare the
# paired difference over ten rounds or more (docs/benchmarks.md, forty-eighth session).
# Usage: bench/push-pairs.sh [--runs N] [--env-b ENV] [--server-env-b ENV] [--prefix-b CMD] [--server-prefix-b CMD] CLI_A [CLI_B] [WORKDIR]
#   CLI_A, CLI_B    merklesync executables (bench/publish-cli.sh builds one); CLI_B defaults to CLI_A
#   --env-b         environment for B's push and server, e.g. 'DOTNET_GCgen0size=0x1000000'
#   --server-env-b  environment for B's server alone, e.g. 'DOTNET_ThreadPool_ForceMinWorkerThreads=8'
#   --prefix-b      a command B's push runs under, e.g. 'nice -n 10'
#   --server-prefix-b  a command B's server runs under, which must exec it (its PID is the server's), e.g. 'taskset -c 1'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=10
env_b=
server_env_b=
prefix_b=
server_prefix_b=
while [ $# -gt 1 ]; do
  case $1 in
    --runs) runs=$2 ;;
    --env-b) env_b=$2 ;;
    --server-env-b) server_env_b=$2 ;;
    --prefix-b) prefix_b=$2 ;;
    --server-prefix-b) server_prefix_b=$2 ;;
    -*) echo "push-pairs.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift 2
done
cli_a=${1:?usage: bench/push-pairs.sh [--runs N] [--env-b ENV] [--server-env-b ENV] [--prefix-b CMD] [--server-prefix-b CMD] CLI_A [CLI_B] [WORKDIR]}
cli_b=${2:-$cli_a}
work=${3:-/tmp/merklesync-pairs}
mkdir -p "$work"
set_dir="$work/set"
[ -d "$set_dir/v1" ] || python3 "$root/../shared/bench/gen_versions.py" "$set_dir" --size 1GiB --seed 7 >/dev/null
port=18496
server=
stop() { [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; server=; }
trap 'stop; rm -rf "$work/run"' EXIT

# Prints "SECONDS CLIENT_CPU SERVER_CPU" (wall seconds of the command, as compare.sh times it) of one push of a
# fresh copy of v1 by CLI $1 with environment $2 (push and server), $3 (server alone), the push run under command $4,
# the server under command $5.
one() {
  local cli=$1 env=$2 server_env=$3 prefix=$4 server_prefix=$5
  rm -rf "$work/run" && mkdir -p "$work/run" && cp -a "$set_dir/v1" "$work/run/src" && sync
  env $env $server_env $server_prefix "$cli" serve --root "$work/run/server" --listen "http://127.0.0.1:$port" > "$work/server.log" 2>&1 &
  server=$!
  local up=
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && { up=1; break; }; sleep 0.1; done
  [ -n "$up" ] || { echo "the server did not start (see $work/server.log)" >&2; exit 1; }
  "$cli" init "http://127.0.0.1:$port/ds" >/dev/null
  local before after
  before=$(awk '{print $14 + $15}' "/proc/$server/stat")
  env $env /usr/bin/time -f "%e %U %S" -o "$work/run/time" $prefix "$cli" push "$work/run/src" "http://127.0.0.1:$port/ds" --json --quiet > "$work/run/push.json"
  after=$(awk '{print $14 + $15}' "/proc/$server/stat")
  stop
  python3 - "$work/run" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
run, before, after, tick = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
if not json.load(open(f"{run}/push.json"))["published"]:
    sys.exit("the push published nothing")
wall, user, system = map(float, open(f"{run}/time").read().split()[-3:])
print(f"{wall:.2f} {user + system:.2f} {(after - before) / tick:.2f}")
PY
}

results="$work/rounds.txt"
: > "$results"
for round in $(seq 1 "$runs"); do
  if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for side in $order; do
    if [ "$side" = A ]; then line=$(one "$cli_a" "" "" "" ""); else line=$(one "$cli_b" "$env_b" "$server_env_b" "$prefix_b" "$server_prefix_b"); fi
    echo "$round $side $line" | tee -a "$results"
  done
done

python3 - "$results" <<'PY'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    r, side, seconds, client, server = line.split()
    rounds.setdefault(r, {})[side] = (float(seconds), float(client), float(server))
for side in "AB":
    rows = [v[side] for v in rounds.values()]
    print(f"{side}: push {statistics.median(r[0] for r in rows):.2f} s, client {statistics.median(r[1] for r in rows):.2f} CPU-s, "
          f"server {statistics.median(r[2] for r in rows):.2f} CPU-s (median of {len(rows)})")
diffs = [v["B"][0] - v["A"][0] for v in rounds.values()]
print(f"B - A per round: {' '.join(f'{d:+.2f}' for d in diffs)}; median {statistics.median(diffs):+.3f} s, mean {statistics.mean(diffs):+.3f} s")
PY
