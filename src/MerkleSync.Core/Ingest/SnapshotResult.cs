using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>A file of a snapshot with its chunk list and where its bytes are on disk.</summary>
/// <param name="Stat">The file's stat when the snapshot took it (cached snapshots), to notice a change before its chunks are sent.</param>
/// <param name="Kept">The bytes hashing read, kept for the upload (small files, while a push's budget has room).</param>
public sealed record SnapshotFile(TreeEntry Entry, ChunkedContent Content, string SourcePath, ClientState.FileStat? Stat = null, KeptBytes? Kept = null);

/// <summary>A directory's snapshot: the root (version id), its files and chunk statistics.</summary>
public sealed record SnapshotResult(Hash Root, IReadOnlyList<SnapshotFile> Files)
{
    public long TotalBytes => Files.Sum(f => f.Entry.Size);

    public long ChunkCount => Files.Sum(f => (long)f.Content.Chunks.Length);

    /// <summary>Distinct chunks and their bytes: what a store needs to hold this snapshot.</summary>
    public (long Count, long Bytes) UniqueChunks
    {
        get
        {
            var seen = new HashSet<Hash>();
            long bytes = 0;
            foreach (var chunk in Files.SelectMany(f => f.Content.Chunks))
            {
                if (seen.Add(chunk.Hash))
                {
                    bytes += (long)chunk.Length;
                }
            }

            return (seen.Count, bytes);
        }
    }
}
