#!/usr/bin/env bash
# Storage efficiency of a second version (repository engine bars), MerkleSync against casync,
# restic and borg, all in one run. Usage: bench/run-dedup.sh [WORKDIR] [SIZE] (default 1GiB).
# Needs python3; installs rsync, casync, restic and borgbackup from Debian if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/merklesync-dedup}
size=${2:-1GiB}
mkdir -p "$work"
for tool in rsync casync restic borg; do command -v $tool >/dev/null || { apt-get update -qq; apt-get install -y -qq rsync casync restic borgbackup >/dev/null; break; }; done

dotnet build "$root/bench/MerkleSync.Bench" -c Release -v q -nologo >/dev/null
dotnet build "$root/src/MerkleSync.Cli" -c Release -v q -nologo >/dev/null
bench="dotnet $root/bench/MerkleSync.Bench/bin/Release/net10.0/MerkleSync.Bench.dll"
ms="dotnet $root/src/MerkleSync.Cli/bin/Release/net10.0/merklesync.dll"
gen="$root/../shared/bench/gen_versions.py"
bytes() { du -sb "$1" | cut -f1; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
mb() { python3 -c "print(f'{$1/1e6:.1f}')"; }

run_set() { # NAME GEN-ARGS...
  local name=$1; shift
  local set="$work/$name"
  [ -d "$set/v1" ] || python3 "$gen" "$set" "$@" >/dev/null
  $bench ideal "$set/v1" "$set/v2" > "$set/ideal.json"
  local ideal; ideal=$(field "$set/ideal.json" ideal_new_chunk_bytes)
  local truly; truly=$(python3 -c "import json; print(json.load(open('$set/changes.json'))['new_bytes'])")

  # MerkleSync: the working copy goes from v1 to v2 the way a user's would (rsync keeps unchanged files' stat).
  rm -rf "$set/ms" && mkdir -p "$set/ms" && cp -a "$set/v1" "$set/ms/work"
  $ms init "file://$set/ms/repo" >/dev/null
  $ms push "$set/ms/work" "file://$set/ms/repo" --json > "$set/ms/push1.json"
  local r1; r1=$(bytes "$set/ms/repo")
  rsync -a --delete --exclude .merklesync "$set/v2/" "$set/ms/work/"
  $ms push "$set/ms/work" "file://$set/ms/repo" --json > "$set/ms/push2.json"
  local r2; r2=$(bytes "$set/ms/repo")
  cp -a "$set/v1" "$set/ms/pull"
  $ms pull "file://$set/ms/repo" "$set/ms/pull" --delete --json > "$set/ms/pull.json"
  diff -r --exclude .merklesync "$set/v2" "$set/ms/pull" >/dev/null || { echo "pull result differs from v2" >&2; exit 1; }

  # casync with zstd, restic and borg (no encryption, no compression for borg as in issue 4's bar).
  rm -rf "$set/ca" && mkdir -p "$set/ca"
  casync make --compression=zstd --store="$set/ca/store" "$set/ca/v1.caidx" "$set/v1" >/dev/null
  local c1; c1=$(bytes "$set/ca/store")
  casync make --compression=zstd --store="$set/ca/store" "$set/ca/v2.caidx" "$set/v2" >/dev/null
  local c2; c2=$(bytes "$set/ca/store")
  rm -rf "$set/restic"; export RESTIC_PASSWORD=bench
  restic init -q -r "$set/restic" >/dev/null
  (cd "$set/v1" && restic backup -q -r "$set/restic" . >/dev/null); local s1; s1=$(bytes "$set/restic")
  (cd "$set/v2" && restic backup -q -r "$set/restic" . >/dev/null); local s2; s2=$(bytes "$set/restic")
  rm -rf "$set/borg"; export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  borg init -e none "$set/borg"
  (cd "$set/v1" && borg create -C none "$set/borg::v1" .); local b1; b1=$(bytes "$set/borg")
  (cd "$set/v2" && borg create -C none "$set/borg::v2" .); local b2; b2=$(bytes "$set/borg")

  echo "### $name (gen_versions.py $*)"
  echo
  echo "truly new bytes (changes.json): $(mb $truly) MB; chunk-level ideal for v2: $(mb $ideal) MB"
  echo
  echo "| store | v1 size | v2 adds | v2 adds / ideal |"
  echo "| --- | --- | --- | --- |"
  echo "| MerkleSync (zstd when it pays) | $(mb $r1) MB | $(mb $((r2 - r1))) MB | $(python3 -c "print(f'{($r2-$r1)/$ideal:.2f}')")x |"
  echo "| casync (zstd) | $(mb $c1) MB | $(mb $((c2 - c1))) MB | $(python3 -c "print(f'{($c2-$c1)/$ideal:.2f}')")x |"
  echo "| restic 0.14 | $(mb $s1) MB | $(mb $((s2 - s1))) MB | $(python3 -c "print(f'{($s2-$s1)/$ideal:.2f}')")x |"
  echo "| borg 1.2 (-C none) | $(mb $b1) MB | $(mb $((b2 - b1))) MB | $(python3 -c "print(f'{($b2-$b1)/$ideal:.2f}')")x |"
  echo
  echo "MerkleSync push v2: read $(mb $(field "$set/ms/push2.json" bytes_scanned)) MB of $(mb $(field "$set/ms/push2.json" bytes)) MB, new chunks $(mb $(field "$set/ms/push2.json" new_chunk_bytes)) MB raw, written $(mb $(field "$set/ms/push2.json" bytes_written)) MB, $(field "$set/ms/push2.json" seconds) s (v1: $(field "$set/ms/push1.json" seconds) s)"
  echo "MerkleSync pull v2 into v1: $(mb $(field "$set/ms/pull.json" pack_bytes_read)) MB read from packs ($(python3 -c "print(f'{$(field "$set/ms/pull.json" pack_bytes_read)/$ideal:.2f}')")x ideal), $(mb $(field "$set/ms/pull.json" bytes_reused)) MB reused locally, $(field "$set/ms/pull.json" seconds) s"
  echo
}

echo "date: $(date -u +%Y-%m-%d), machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), dotnet $(dotnet --version), $(casync --version | head -1), $(restic version | cut -d' ' -f1-2), $(borg --version)"
echo
run_set "default-$size" --size "$size" --seed 7
run_set "text-heavy-256MiB" --size 256MiB --seed 7 --shard-fraction 0
