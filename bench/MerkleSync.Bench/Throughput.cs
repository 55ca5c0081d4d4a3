using System.Diagnostics;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Bench;

/// <summary>Wall-clock throughput of each stage over one file, best of three passes.</summary>
internal static class Throughput
{
    public static async Task RunAsync(string path)
    {
        long length = new FileInfo(path).Length;
        await Measure("chunking only (1 thread)", length, () => ChunkOnly(path));
        await Measure("chunk + hash (1 thread)", length, () => ChunkAndHash(path));
    }

    private static async Task Measure(string name, long length, Func<Task> pass)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            await pass();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }

        Console.WriteLine($"{name,-28} {length / best / 1e9,6:F2} GB/s  ({best:F3} s)");
    }

    private static async Task ChunkOnly(string path)
    {
        await using var file = OpenSequential(path);
        await StreamChunker.ChunkAsync(file, NullSink.Instance, CancellationToken.None);
    }

    private static async Task ChunkAndHash(string path)
    {
        await using var file = OpenSequential(path);
        await ContentHasher.HashAsync(file, CancellationToken.None);
    }

    private static FileStream OpenSequential(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private sealed class NullSink : IChunkSink
    {
        public static readonly NullSink Instance = new();

        public ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
