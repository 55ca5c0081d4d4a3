using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

/// <summary>
/// A pack upload that may outlive the process: the remote and tus upload URL it goes to, and where
/// the raw bytes of each chunk sent so far can be read again, in pack order. Nothing is spooled:
/// a later run rebuilds the same pack bytes from those sources (with the same compression) and
/// sends what the server lacks.
/// </summary>
public sealed record UploadCheckpoint(string Name, string RemoteUrl, string UploadUrl, Compression Compression, IReadOnlyList<ChunkOrigin> Chunks);

/// <summary>Durable storage for upload checkpoints (the client state of the dataset being pushed).</summary>
public interface IUploadCheckpoints
{
    /// <summary>Records an upload before its first byte is sent.</summary>
    void Begin(string name, string remoteUrl, string uploadUrl, Compression compression);

    /// <summary>Appends the sources of the next chunks of an upload, before bytes of them are sent.</summary>
    void AppendChunks(string name, IReadOnlyList<ChunkOrigin> chunks);

    void Remove(string name);

    IReadOnlyList<UploadCheckpoint> List();
}
