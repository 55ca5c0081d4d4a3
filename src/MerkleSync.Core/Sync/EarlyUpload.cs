using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Progress;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Negotiates and uploads freshly hashed files while the rest of a push's snapshot is still being
/// hashed: a first push of a large dataset would otherwise leave the network and the server idle
/// for the whole hashing phase. Files go in groups of at least two packs' worth, one group after
/// another; what the groups settled (files asked about, chunks sent or found on the remote) is left
/// out of the negotiation that follows the snapshot. Each group stores its missing files' records
/// on the remote once their chunks are there, so the publish finds them.
/// A group that fails calls <paramref name="onFailure"/> (the push stops hashing and reports it) at once.
/// </summary>
internal sealed class EarlyUpload(IRemote remote, long packSize, OperationProgress progress, Action onFailure, CancellationToken cancellationToken)
{
    private readonly Lock _lock = new();
    private readonly List<SnapshotFile> _pending = [];
    private long _pendingBytes;
    private Task _groups = Task.CompletedTask;

    /// <summary>File hashes asked about (valid once <see cref="FinishAsync"/> returned).</summary>
    public HashSet<Hash> AskedFiles { get; } = [];

    /// <summary>Chunks sent or found on the remote.</summary>
    public HashSet<Hash> SettledChunks { get; } = [];

    public UploadTotals Totals { get; private set; } = new(0, 0, 0, 0);

    /// <summary>Takes a hashed file (from any thread); a full group starts once the groups before it are done.</summary>
    public void Add(SnapshotFile file)
    {
        lock (_lock)
        {
            _pending.Add(file);
            _pendingBytes += file.Content.Length;
            if (_pendingBytes >= 2 * packSize)
            {
                // In path order, as the files' chunks are packed: a pull reads neighbours together.
                var group = _pending.OrderBy(f => f.Entry.Path, Tree.DatasetPath.Comparer).ToList();
                _pending.Clear();
                _pendingBytes = 0;
                var previous = _groups;
                _groups = Task.Run(() => AfterAsync(previous, group), cancellationToken); // not on the hashing thread, nor under the lock
            }
        }
    }

    /// <summary>Waits for the groups started; files not in a full group are left to the caller's negotiation.</summary>
    public Task FinishAsync()
    {
        lock (_lock)
        {
            return _groups;
        }
    }

    private async Task AfterAsync(Task previous, List<SnapshotFile> group)
    {
        try
        {
            await previous.ConfigureAwait(false);
            var missingFiles = await Negotiation.MissingFilesAsync(remote, group, AskedFiles, cancellationToken).ConfigureAwait(false);
            var missingChunks = await Negotiation.MissingChunksAsync(remote, missingFiles, SettledChunks, cancellationToken).ConfigureAwait(false);
            var upload = await ChunkUploader.UploadAsync(missingFiles, missingChunks, remote, packSize, progress, cancellationToken).ConfigureAwait(false);
            Totals += upload;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            onFailure();
            throw;
        }
    }
}
