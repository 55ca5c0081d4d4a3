using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Bench;

/// <summary>
/// The chunk-level ideal for storing V2 after V1: the total size of V2's distinct chunks that occur
/// nowhere in V1, with the same chunker. Prints JSON for bench scripts.
/// </summary>
internal static class ChunkIdeal
{
    public static async Task PrintAsync(string v1, string v2)
    {
        var first = await Snapshotter.SnapshotAsync(v1, new MemoryTreeNodeStore(), CancellationToken.None);
        var second = await Snapshotter.SnapshotAsync(v2, new MemoryTreeNodeStore(), CancellationToken.None);
        var known = first.Files.SelectMany(f => f.Content.Chunks).Select(c => c.Hash).ToHashSet();
        var fresh = new Dictionary<Hash, ulong>();
        foreach (var chunk in second.Files.SelectMany(f => f.Content.Chunks).Where(c => !known.Contains(c.Hash)))
        {
            fresh.TryAdd(chunk.Hash, chunk.Length);
        }

        Console.WriteLine($"{{\"v1_bytes\": {first.TotalBytes}, \"v2_bytes\": {second.TotalBytes}, \"v1_unique_chunk_bytes\": {first.UniqueChunks.Bytes}, \"ideal_new_chunk_bytes\": {fresh.Values.Sum(l => (long)l)}, \"ideal_new_chunks\": {fresh.Count}}}");
    }
}
