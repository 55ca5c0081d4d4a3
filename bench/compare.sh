#!/usr/bin/env bash
# MerkleSync against restic, borg and casync in one run: large-file pair (v1, v2, restore, bytes,
# wire bytes, peak RSS), 100k small files, a 1M-entry tree diff, peak RSS at two input sizes.
# Median of 3 runs; the table and chart go to WORKDIR/compare.md and compare.svg, and with --docs
# into docs/benchmarks.md and docs/compare.svg.
# Usage: bench/compare.sh [--size 1GiB] [--runs 3] [--small-files 100000] [--rss-sizes 1GiB,4GiB]
#                         [--work DIR] [--docs]
# Installs restic, borgbackup, casync, b3sum and rsync from Debian when missing. Needs python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/merklesync-compare
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
missing=()
for pair in restic:restic borg:borgbackup casync:casync b3sum:b3sum rsync:rsync; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cli=$("$root/bench/publish-cli.sh")
dotnet build "$root/bench/MerkleSync.Bench" -c Release -v q -nologo >/dev/null
exec python3 "$root/bench/compare.py" --root "$root" --work "$work" --cli "$cli" "${args[@]}"
