using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Sync;

/// <summary>A file's content as runs of consecutive chunks in packs, in file order.</summary>
public sealed record FileReconstruction(Hash FileHash, long Length, IReadOnlyList<(Hash PackId, PackEntry[] Run)> Segments)
{
    /// <summary>The file's chunk list as the plan gives it, to check against the file hash before any byte is trusted.</summary>
    public ChunkRef[] ChunkList() => [.. Segments.SelectMany(s => s.Run).Select(e => new ChunkRef(e.ChunkHash, (ulong)e.RawLength))];
}

/// <summary>A version with its record id.</summary>
public sealed record VersionRef(Hash Id, VersionRecord Record);

/// <summary>
/// What push, pull, diff, log and upkeep (gc, forget, repair) need from a repository, wherever it
/// is: in this process (<c>file://</c>) or behind a server. Each is written once against this.
/// </summary>
public interface IRemote : IAsyncDisposable
{
    string Url { get; }

    /// <summary>Bytes sent and received over the network so far, headers included (0 for local remotes).</summary>
    (long Sent, long Received) WireBytes { get; }

    /// <summary>Requests retried so far, and how many of those retries were the server asking to slow down (429/503).</summary>
    (long Retries, long Throttles) Retries { get; }

    /// <summary>Tree nodes; reads verify node ids.</summary>
    ITreeNodeStore Nodes { get; }

    /// <summary>
    /// Has <see cref="Nodes"/> hold every node of the tree under <paramref name="root"/>, for a command
    /// about to read all of it: a server sends them a level at a time, a few requests in all instead
    /// of one per node. Remotes in this process do nothing.
    /// </summary>
    ValueTask PrefetchTreeAsync(Hash root, CancellationToken cancellationToken);

    ValueTask<VersionRef?> GetBranchAsync(string branch, CancellationToken cancellationToken);

    /// <summary>A branch, tag or (prefix of a) version record id or root hash.</summary>
    ValueTask<VersionRef> ResolveAsync(string spec, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<VersionRef>> HistoryAsync(Hash head, int max, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<(RefName Name, Hash Id)>> ListRefsAsync(CancellationToken cancellationToken);

    /// <summary>Versions branches and tags left that gc still keeps, newest first (<see cref="Repository.Repository.ListDropped"/>).</summary>
    ValueTask<IReadOnlyList<DroppedRef>> ListDroppedAsync(CancellationToken cancellationToken);

    /// <summary>For each hash, whether the repository has that file / chunk / tree node.</summary>
    ValueTask<bool[]> HaveFilesAsync(IReadOnlyList<Hash> files, CancellationToken cancellationToken);

    ValueTask<bool[]> HaveChunksAsync(IReadOnlyList<Hash> chunks, CancellationToken cancellationToken);

    ValueTask<bool[]> HaveNodesAsync(IReadOnlyList<Hash> nodes, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a pack whose chunks the caller encodes with <paramref name="compression"/>: a remote
    /// that checkpoints uploads records it, so that a resumed pack is rebuilt byte for byte.
    /// </summary>
    ValueTask<IPackUpload> BeginPackAsync(Compression compression, CancellationToken cancellationToken);

    /// <summary>
    /// Finishes pack uploads an earlier, interrupted run left in <paramref name="checkpoints"/>, from
    /// the offset the server has, and keeps checkpoints there for the packs of this run. Returns how
    /// many packs were resumed. Remotes without a network leg resume nothing.
    /// </summary>
    ValueTask<int> ResumeUploadsAsync(IUploadCheckpoints checkpoints, CancellationToken cancellationToken);

    /// <summary>Stores the records of files whose chunks the remote has; it checks each against its chunks.</summary>
    ValueTask StoreFilesAsync(IReadOnlyList<NewFile> files, CancellationToken cancellationToken);

    /// <summary>Stores tree nodes for a publish to name; the remote checks each against its id.</summary>
    ValueTask StoreNodesAsync(IReadOnlyList<KeyValuePair<Hash, byte[]>> nodes, CancellationToken cancellationToken);

    /// <summary>Publishes a version whose files and nodes the remote has; see <see cref="Repository.Repository.PublishAsync"/>.</summary>
    ValueTask<VersionRef> PublishAsync(PublishRequest request, CancellationToken cancellationToken);

    /// <summary>The reconstruction of each file, in the order asked; the caller bounds how many it asks for at once.</summary>
    ValueTask<IReadOnlyList<FileReconstruction>> GetReconstructionsAsync(IReadOnlyList<Hash> fileHashes, CancellationToken cancellationToken);

    /// <summary>
    /// Reads entries of one pack, in increasing offset order, with one ranged read from the first to
    /// the end of the last (bytes between them are read and skipped), verifying each chunk before
    /// handing it over.
    /// </summary>
    ValueTask ReadChunksAsync(Hash packId, ReadOnlyMemory<PackEntry> run, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken);

    /// <summary>Creates, moves or (target null) deletes a tag if it is at <paramref name="expected"/> (null: absent); else a conflict.</summary>
    ValueTask UpdateTagAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken);

    /// <summary>Creates, moves or (target null) deletes a branch if it is at <paramref name="expected"/> (null: absent); else a conflict.</summary>
    ValueTask UpdateBranchAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken);

    /// <summary>Garbage collection, on the repository's side (write access); see <see cref="Repository.Repository.CollectGarbageAsync"/>. A dry run changes nothing.</summary>
    Task<GcReport> CollectGarbageAsync(TimeSpan grace, bool dryRun, CancellationToken cancellationToken);

    /// <summary>Forgets the versions <paramref name="policy"/> does not keep (write access); see <see cref="Repository.Repository.ForgetAsync"/>.</summary>
    Task<ForgetReport> ForgetAsync(ForgetPolicy policy, bool dryRun, TimeSpan? prune, CancellationToken cancellationToken);

    /// <summary>Ids of every pack the repository has indexed, in ascending order.</summary>
    IAsyncEnumerable<Hash> ListPackIdsAsync(CancellationToken cancellationToken);

    /// <summary>Salvages a damaged pack, on the repository's side (write access); see <see cref="Repository.Repository.RepairPackAsync"/>.</summary>
    Task<PackRepairReport> RepairPackAsync(Hash packId, CancellationToken cancellationToken);
}
