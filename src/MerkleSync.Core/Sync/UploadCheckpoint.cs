namespace MerkleSync.Core.Sync;

/// <summary>
/// A pack upload that may outlive the process: its spooled pack file, the remote and tus upload
/// URL it goes to, and the pack id the server must confirm. Saved before the first byte is sent,
/// removed when the server confirms the pack.
/// </summary>
public sealed record UploadCheckpoint(string Name, string RemoteUrl, string UploadUrl, string PackId, long Length);

/// <summary>Durable storage for upload checkpoints (the client state of the dataset being pushed).</summary>
public interface IUploadCheckpoints
{
    /// <summary>Where packs are spooled so a later run can resume them.</summary>
    string SpoolFolder { get; }

    void Save(UploadCheckpoint checkpoint);

    void Remove(string name);

    IReadOnlyList<UploadCheckpoint> List();
}
