using System.Diagnostics;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Bench;

/// <summary>Wall-clock throughput of each stage over real files, best of three passes (page cache warm).</summary>
internal static class Throughput
{
    public static async Task FileAsync(string path)
    {
        long length = new FileInfo(path).Length;
        await MeasureAsync("chunking only, 1 thread", length, async () =>
        {
            await using var file = Snapshotter.OpenForRead(path);
            await StreamChunker.ChunkAsync(file, NullSink.Instance, CancellationToken.None);
        });
        await MeasureAsync("chunk + hash, 1 thread", length, async () =>
        {
            await using var file = Snapshotter.OpenForRead(path);
            await ContentHasher.HashAsync(file, CancellationToken.None);
        });
        await MeasureAsync($"chunk + hash, {Environment.ProcessorCount} threads", length, async () =>
        {
            await using var file = Snapshotter.OpenForRead(path);
            await ContentHasher.HashAsync(file, CancellationToken.None, Environment.ProcessorCount);
        });
    }

    public static async Task DirectoryAsync(string path)
    {
        var files = DirectoryScanner.Scan(path);
        long length = files.Sum(f => f.Size);
        Console.WriteLine($"{files.Count} files, {length} bytes");
        await MeasureAsync($"snapshot, {Environment.ProcessorCount} cores", length, async () =>
            await Snapshotter.SnapshotAsync(path, new MemoryTreeNodeStore(), CancellationToken.None));
    }

    private static async Task MeasureAsync(string name, long length, Func<Task> pass)
    {
        double best = double.MaxValue, cpuAtBest = 0;
        for (int i = 0; i < 3; i++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await pass();
            double seconds = clock.Elapsed.TotalSeconds;
            if (seconds < best)
            {
                best = seconds;
                cpuAtBest = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            }
        }

        Console.WriteLine($"| {name} | {length / best / 1e9:F2} GB/s | {best:F3} s | {cpuAtBest / best:F2} cores busy |");
    }

    private sealed class NullSink : IChunkSink
    {
        public static readonly NullSink Instance = new();

        public ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
