using System.Collections.Concurrent;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;

namespace MerkleSync.Core.Restore;

/// <summary>Chunks available on local disk: which file holds each, at which offset. Safe for concurrent use.</summary>
internal sealed class LocalChunkIndex
{
    private readonly ConcurrentDictionary<Hash, (string Path, long Offset, int Length)> _chunks = new();

    public void Add(SnapshotFile file)
    {
        if (file.Entry.Mode == Tree.EntryMode.Symlink)
        {
            return;
        }

        Add(file.SourcePath, file.Content.Chunks);
    }

    public void Add(string path, IEnumerable<ChunkRef> chunks)
    {
        long offset = 0;
        foreach (var chunk in chunks)
        {
            _chunks.TryAdd(chunk.Hash, (path, offset, (int)chunk.Length));
            offset += (long)chunk.Length;
        }
    }

    public bool TryGet(Hash chunk, out (string Path, long Offset, int Length) location) => _chunks.TryGetValue(chunk, out location);
}
