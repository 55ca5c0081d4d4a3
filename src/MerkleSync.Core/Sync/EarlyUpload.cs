using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Progress;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Negotiates and uploads freshly hashed files while the rest of a push's snapshot is still being
/// hashed: a first push of a large dataset would otherwise leave the network and the server idle
/// for the whole hashing phase. Files go in groups: the first of half a pack's worth, so the server
/// has work early, then of two packs' worth. Groups negotiate one after another (what a group
/// settled, files asked about and chunks it sends or found on the remote, is left out of the next
/// one's questions), and a group uploads while the one before it finishes its last packs: at most
/// two groups upload at once, so lanes that run dry at a group's end do not leave the link idle.
/// A group stores its missing files' records on the remote once the groups before it are done (a
/// file's other chunks may be in their packs), so the publish finds them. What the groups settled
/// is left out of the negotiation that follows the snapshot.
/// A group that fails calls <paramref name="onFailure"/> (the push stops hashing and reports it) at once.
/// </summary>
internal sealed class EarlyUpload(IRemote remote, PackingOptions packing, OperationProgress progress, Action onFailure, CancellationToken cancellationToken)
{
    private readonly Lock _lock = new();
    private readonly List<SnapshotFile> _pending = [];
    private long _pendingBytes;
    private long _groupBytes = Math.Max(1, packing.PackSize / 2);
    private Task _negotiated = Task.CompletedTask;
    private Task _previousGroup = Task.CompletedTask;
    private Task _lastGroup = Task.CompletedTask;
    private UploadTotals _totals = new(0, 0, 0, 0);

    /// <summary>File hashes asked about (valid once <see cref="FinishAsync"/> returned).</summary>
    public HashSet<Hash> AskedFiles { get; } = [];

    /// <summary>Chunks sent or found on the remote.</summary>
    public HashSet<Hash> SettledChunks { get; } = [];

    public UploadTotals Totals
    {
        get
        {
            lock (_lock)
            {
                return _totals;
            }
        }
    }

    /// <summary>Takes a hashed file (from any thread); a full group starts at once and waits for its turn.</summary>
    public void Add(SnapshotFile file)
    {
        lock (_lock)
        {
            _pending.Add(file);
            _pendingBytes += file.Content.Length;
            if (_pendingBytes >= _groupBytes)
            {
                // In path order, as the files' chunks are packed: a pull reads neighbours together.
                var group = _pending.OrderBy(f => f.Entry.Path, Tree.DatasetPath.Comparer).ToList();
                _pending.Clear();
                _pendingBytes = 0;
                _groupBytes = 2 * packing.PackSize;
                var negotiated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var (negotiatedBefore, twoBack, oneBack) = (_negotiated, _previousGroup, _lastGroup);
                _negotiated = negotiated.Task;
                _previousGroup = _lastGroup;
                // Not on the hashing thread, nor under the lock; always run (no token here), so that
                // its negotiation's completion, which the next group waits for, is always set.
                _lastGroup = Task.Run(() => RunGroupAsync(group, negotiatedBefore, negotiated, twoBack, oneBack), CancellationToken.None);
            }
        }
    }

    /// <summary>Waits for the groups started; files not in a full group are left to the caller's negotiation.</summary>
    public Task FinishAsync()
    {
        lock (_lock)
        {
            return _lastGroup;
        }
    }

    private async Task RunGroupAsync(List<SnapshotFile> group, Task negotiatedBefore, TaskCompletionSource negotiated, Task twoBack, Task oneBack)
    {
        try
        {
            List<SnapshotFile> missingFiles;
            HashSet<Hash> missingChunks;
            try
            {
                await negotiatedBefore.ConfigureAwait(false);
                missingFiles = await Negotiation.MissingFilesAsync(remote, group, AskedFiles, cancellationToken).ConfigureAwait(false);
                missingChunks = await Negotiation.MissingChunksAsync(remote, missingFiles, SettledChunks, cancellationToken).ConfigureAwait(false);
                negotiated.SetResult();
            }
            catch (Exception e)
            {
                negotiated.SetException(e);
                throw;
            }

            await twoBack.ConfigureAwait(false);
            var upload = await ChunkUploader.UploadAsync(missingFiles, missingChunks, group.Sum(f => f.Content.Length), remote, packing, progress, oneBack, cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                _totals += upload;
            }
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            onFailure();
            throw;
        }
        finally
        {
            // A group ends after the one before it, so that waiting for the last waits for all.
            await oneBack.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }
}
