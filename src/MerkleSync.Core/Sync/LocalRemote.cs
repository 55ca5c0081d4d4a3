using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Sync;

/// <summary>A repository opened in this process: the <c>file://</c> remote.</summary>
public sealed class LocalRemote(Repository.Repository repository, string url) : IRemote
{
    public string Url => url;

    public Repository.Repository Repository => repository;

    public ITreeNodeStore Nodes => repository.Nodes;

    public ValueTask PrefetchTreeAsync(Hash root, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public (long Sent, long Received) WireBytes => (0, 0);

    public (long Retries, long Throttles) Retries => (0, 0);

    public ValueTask<VersionRef?> GetBranchAsync(string branch, CancellationToken cancellationToken)
    {
        var head = repository.GetRef(RefName.Branch(branch));
        return ValueTask.FromResult(head is { } id
            ? new VersionRef(id, repository.GetVersion(id) ?? throw new CorruptDataException($"Branch '{branch}' points at missing version {id}."))
            : null);
    }

    public ValueTask<VersionRef> ResolveAsync(string spec, CancellationToken cancellationToken)
    {
        var (id, record) = repository.Resolve(spec);
        return ValueTask.FromResult(new VersionRef(id, record));
    }

    public ValueTask<IReadOnlyList<VersionRef>> HistoryAsync(Hash head, int max, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<VersionRef>>([.. repository.History(head).Take(max).Select(v => new VersionRef(v.Id, v.Record))]);

    public ValueTask<IReadOnlyList<(RefName Name, Hash Id)>> ListRefsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<(RefName, Hash)>>([.. repository.ListRefs()]);

    public ValueTask<IReadOnlyList<DroppedRef>> ListDroppedAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(repository.ListDropped());

    public ValueTask<bool[]> HaveFilesAsync(IReadOnlyList<Hash> files, CancellationToken cancellationToken) =>
        ValueTask.FromResult(repository.HaveFiles(files));

    public ValueTask<bool[]> HaveChunksAsync(IReadOnlyList<Hash> chunks, CancellationToken cancellationToken) =>
        ValueTask.FromResult(repository.HaveChunks(chunks));

    public ValueTask<bool[]> HaveNodesAsync(IReadOnlyList<Hash> nodes, CancellationToken cancellationToken) =>
        ValueTask.FromResult(repository.HaveNodes(nodes));

    public ValueTask<IPackUpload> BeginPackAsync(Compression compression, CancellationToken cancellationToken) => repository.BeginPackAsync(cancellationToken);

    /// <summary>Packs written in-process are complete or absent; crash recovery on open handles the rest.</summary>
    public ValueTask<int> ResumeUploadsAsync(IUploadCheckpoints checkpoints, CancellationToken cancellationToken) => ValueTask.FromResult(0);

    public async ValueTask StoreFilesAsync(IReadOnlyList<NewFile> files, CancellationToken cancellationToken) =>
        await repository.StoreFilesAsync(files, cancellationToken).ConfigureAwait(false);

    public async ValueTask StoreNodesAsync(IReadOnlyList<KeyValuePair<Hash, byte[]>> nodes, CancellationToken cancellationToken) =>
        await repository.StoreNodesAsync(nodes, cancellationToken).ConfigureAwait(false);

    public async ValueTask<VersionRef> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var (id, record) = await repository.PublishAsync(request, cancellationToken).ConfigureAwait(false);
        return new VersionRef(id, record);
    }

    public ValueTask<IReadOnlyList<FileReconstruction>> GetReconstructionsAsync(IReadOnlyList<Hash> fileHashes, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<FileReconstruction>>([.. fileHashes.Zip(repository.GetFiles(fileHashes), Reconstruct)]);

    /// <summary>A file's content as runs of its pack entries: what a client needs to fetch it.</summary>
    public FileReconstruction Reconstruct(Hash fileHash) => Reconstruct(fileHash, repository.GetFile(fileHash));

    /// <summary>The plan of a file from its record, which the caller looked up (null: not stored).</summary>
    public FileReconstruction Reconstruct(Hash fileHash, FileRecord? record)
    {
        var file = record ?? throw new NotFoundException($"File {fileHash} is not in the repository.");
        var segments = file.Segments.Select(s =>
        {
            var entries = repository.GetPack(s.PackId).Entries;
            if (s.FirstIndex < 0 || s.Count <= 0 || s.FirstIndex + s.Count > entries.Length)
            {
                throw new CorruptDataException($"File {fileHash} refers to chunks {s.FirstIndex}..{s.FirstIndex + s.Count} of pack {s.PackId}, which has {entries.Length}.");
            }

            return (s.PackId, entries[s.FirstIndex..(s.FirstIndex + s.Count)]);
        }).ToList();
        return new FileReconstruction(fileHash, file.Length, segments);
    }

    public ValueTask ReadChunksAsync(Hash packId, ReadOnlyMemory<PackEntry> run, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken) =>
        PackReader.ReadChunksAsync(repository.Blobs, packId, run, onChunk, cancellationToken);

    public async ValueTask UpdateTagAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        await repository.UpdateTagAsync(name, target, expected, cancellationToken).ConfigureAwait(false);

    public async ValueTask UpdateBranchAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        await repository.UpdateBranchAsync(name, target, expected, cancellationToken).ConfigureAwait(false);

    public Task<GcReport> CollectGarbageAsync(TimeSpan grace, bool dryRun, CancellationToken cancellationToken) =>
        repository.CollectGarbageAsync(new GcOptions(grace, DryRun: dryRun), cancellationToken);

    public Task<ForgetReport> ForgetAsync(ForgetPolicy policy, bool dryRun, TimeSpan? prune, CancellationToken cancellationToken) => repository.ForgetAsync(policy, dryRun, prune, cancellationToken);

    public IAsyncEnumerable<Hash> ListPackIdsAsync(CancellationToken cancellationToken) => repository.ListPackIds(null, int.MaxValue).ToAsyncEnumerable();

    public Task<PackRepairReport> RepairPackAsync(Hash packId, CancellationToken cancellationToken) => repository.RepairPackAsync(packId, cancellationToken);

    public ValueTask DisposeAsync()
    {
        repository.Dispose();
        return ValueTask.CompletedTask;
    }
}
