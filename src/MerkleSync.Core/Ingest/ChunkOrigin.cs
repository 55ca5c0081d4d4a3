using MerkleSync.Core.ClientState;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Ingest;

/// <summary>
/// Where a chunk's raw bytes can be read again: <paramref name="Length"/> bytes at
/// <paramref name="Offset"/> of the file (or, for a symlink, of its target text) at
/// <paramref name="SourcePath"/>, hashing to <paramref name="Hash"/>. An interrupted upload is
/// rebuilt from these rather than kept in a spool file. <paramref name="Stat"/> is the file's stat
/// when it was hashed, if known; <paramref name="Kept"/> the whole file's bytes, if hashing kept them.
/// </summary>
public sealed record ChunkOrigin(string SourcePath, bool Symlink, long Offset, int Length, Hash Hash, FileStat? Stat = null, KeptBytes? Kept = null)
{
    public static ChunkOrigin Of(SnapshotFile file, long offset, ChunkRef chunk) =>
        new(file.SourcePath, file.Entry.Mode == Tree.EntryMode.Symlink, offset, (int)chunk.Length, chunk.Hash, file.Stat, file.Kept);

    /// <summary>A chunk of a file hashed but not yet snapshotted (a run of a large file's chunks).</summary>
    public static ChunkOrigin Of(ScannedFile file, long offset, ChunkRef chunk) =>
        new(file.FullPath, file.Mode == Tree.EntryMode.Symlink, offset, (int)chunk.Length, chunk.Hash, file.Stat);
}
