using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Ingest;

/// <summary>Hears of what a snapshot's hashing produces, as soon as it does (from several threads).</summary>
public interface IHashListener
{
    /// <summary>A file that had to be read, with its stat, once it is hashed.</summary>
    void OnFile(SnapshotFile file);

    /// <summary>
    /// A run of a large file's chunks, starting at <paramref name="offset"/>, hashed while the rest
    /// of the file is still being read: runs come in order, each once, before <see cref="OnFile"/>
    /// for that file. Returns false to hear no more runs of this file.
    /// </summary>
    bool OnChunks(ScannedFile file, long offset, ChunkRef[] chunks);

    /// <summary>Where small files' bytes are kept from hashing for their upload; null to keep none.</summary>
    KeptBytesBudget? Keep { get; }
}
