using BenchmarkDotNet.Running;
using MerkleSync.Core.Bench;

// `throughput FILE` and `directory DIR`: wall-clock passes over real data (used by bench/run.sh);
// anything else goes to BenchmarkDotNet (in-memory micro-benchmarks).
switch (args)
{
    case ["throughput", var file]:
        await Throughput.FileAsync(file);
        break;
    case ["directory", var directory]:
        await Throughput.DirectoryAsync(directory);
        break;
    case ["ideal", var v1, var v2]:
        await ChunkIdeal.PrintAsync(v1, v2);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(ChunkingBenchmarks).Assembly).Run(args);
        break;
}
