#!/usr/bin/env bash
# Publishes the CLI (which also runs the server) as a release is built: framework-dependent,
# ReadyToRun for this machine's runtime identifier, so the benchmarks do not time the JIT
# compiling MerkleSync's own code (0.2 s of a 1.1 s no-change push of 100k files).
# Prints the path of merklesync.dll.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -1) ;;
esac
out="$root/artifacts/cli-$rid"
dotnet publish "$root/src/MerkleSync.Cli" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true -o "$out" -v q -nologo >/dev/null
echo "$out/merklesync.dll"
