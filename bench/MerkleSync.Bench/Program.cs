using System.Diagnostics;
using BenchmarkDotNet.Running;
using MerkleSync.Core.Bench;

// `throughput FILE`: one pass over a real file, printing GB/s for each stage (used by bench/run.sh);
// anything else goes to BenchmarkDotNet.
if (args.Length >= 2 && args[0] == "throughput")
{
    await Throughput.RunAsync(args[1]);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(ChunkingBenchmarks).Assembly).Run(args);
