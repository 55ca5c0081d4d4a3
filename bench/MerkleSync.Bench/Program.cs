using BenchmarkDotNet.Running;
using MerkleSync.Core.Bench;

// `throughput FILE`, `directory DIR`, `ideal V1 V2`, `treediff ENTRIES CHANGED`, `lookups KEYS`: wall-clock passes
// over real data for the bench scripts; `allocations TRACE [--large]`: what a traced process allocated;
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
    case ["treediff", var entries, var changed]:
        await TreeDiffScale.PrintAsync(int.Parse(entries, System.Globalization.CultureInfo.InvariantCulture), int.Parse(changed, System.Globalization.CultureInfo.InvariantCulture));
        break;
    case ["lookups", var keys]:
        IndexLookups.Print(int.Parse(keys, System.Globalization.CultureInfo.InvariantCulture));
        break;
    case ["allocations", var trace]:
        AllocationReport.Print(trace, largeOnly: false);
        break;
    case ["allocations", var trace, "--large"]:
        AllocationReport.Print(trace, largeOnly: true);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(ChunkingBenchmarks).Assembly).Run(args);
        break;
}
