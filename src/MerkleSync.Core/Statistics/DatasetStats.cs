using MerkleSync.Core.Hashing;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Statistics;

/// <summary>
/// Sizes of a set of versions, as <c>borg info</c> and <c>restic stats</c> give them: what restoring
/// each would write (<see cref="Entries"/>, <see cref="Bytes"/>, summed over the versions), the
/// distinct files among them, the distinct chunks those are made of, and what those chunks take in
/// packs. Bytes / ChunkBytes is what deduplication saves, ChunkBytes / StoredBytes what compression does.
/// </summary>
public sealed record DatasetStats(
    int Versions, long Entries, long Bytes, long DistinctFiles, long DistinctFileBytes, long Chunks, long ChunkBytes, long StoredBytes, int Packs)
{
    /// <summary>Files whose chunk lists are asked for in one request.</summary>
    private const int FilesPerRequest = 1000;

    public double DeduplicationRatio => ChunkBytes == 0 ? 1 : (double)Bytes / ChunkBytes;

    public double CompressionRatio => StoredBytes == 0 ? 1 : (double)ChunkBytes / StoredBytes;

    /// <summary>
    /// Reads the versions' trees (each node once, however many versions share it) and the chunk lists
    /// of their distinct files. Totals per version come from the root node's child summaries.
    /// </summary>
    public static async Task<DatasetStats> CollectAsync(IRemote remote, IReadOnlyList<VersionRef> versions, CancellationToken cancellationToken)
    {
        long entries = 0, bytes = 0;
        var seenNodes = new HashSet<Hash>();
        var files = new Dictionary<Hash, long>();
        foreach (var version in versions)
        {
            var rootId = version.Record.Root;
            await remote.PrefetchTreeAsync(rootId, cancellationToken).ConfigureAwait(false);
            var root = await TreeReader.LoadAsync(remote.Nodes, rootId, cancellationToken).ConfigureAwait(false);
            entries += root.IsLeaf ? root.Entries.Count : root.Children.Sum(c => c.EntryCount);
            bytes += root.IsLeaf ? root.Entries.Sum(e => e.Size) : root.Children.Sum(c => c.TotalBytes);

            // Bounded by the tree: each node is loaded at most once.
            var pending = new Stack<Hash>();
            if (seenNodes.Add(rootId))
            {
                pending.Push(rootId);
            }

            while (pending.TryPop(out var id))
            {
                var node = id == rootId ? root : await TreeReader.LoadAsync(remote.Nodes, id, cancellationToken).ConfigureAwait(false);
                foreach (var child in node.Children.Where(c => seenNodes.Add(c.NodeId)))
                {
                    pending.Push(child.NodeId);
                }

                foreach (var entry in node.Entries.Where(e => !e.FileHash.IsZero))
                {
                    files.TryAdd(entry.FileHash, entry.Size);
                }
            }
        }

        var chunks = new HashSet<Hash>();
        var packs = new HashSet<Hash>();
        long chunkBytes = 0, storedBytes = 0;
        foreach (var batch in files.Keys.Chunk(FilesPerRequest))
        {
            foreach (var plan in await remote.GetReconstructionsAsync(batch, cancellationToken).ConfigureAwait(false))
            {
                foreach (var (packId, run) in plan.Segments)
                {
                    packs.Add(packId);
                    foreach (var entry in run.Where(e => chunks.Add(e.ChunkHash)))
                    {
                        chunkBytes += entry.RawLength;
                        storedBytes += entry.StoredLength;
                    }
                }
            }
        }

        return new DatasetStats(versions.Count, entries, bytes, files.Count, files.Values.Sum(), chunks.Count, chunkBytes, storedBytes, packs.Count);
    }
}
