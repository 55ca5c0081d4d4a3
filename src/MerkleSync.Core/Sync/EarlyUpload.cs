using System.Runtime.ExceptionServices;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Progress;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Negotiates and uploads freshly hashed files while the rest of a push's snapshot is still being
/// hashed: a first push of a large dataset would otherwise leave the network and the server idle
/// for the whole hashing phase. Files go in groups: the first of half a pack's worth, so the server
/// has work early, then of two packs' worth (and at most <see cref="MaxGroupFiles"/> files). Groups
/// negotiate one after another (what a group settled, files asked about and chunks it sends or found
/// on the remote, is left out of the next one's questions), and a group uploads while the one before
/// it finishes its last packs: at most two groups upload at once, so lanes that run dry at a group's
/// end do not leave the link idle. In a push that had groups, what is left when hashing ends forms a
/// last group that uploads at once, beside those two: the hashing cores are free then while the
/// earlier groups wait on the server, and the last files, often small ones whose chunks compress,
/// use them (a 1 GiB v1 push: 0.04-0.1 s less in three sets of paired runs; docs/benchmarks.md,
/// fifty-first session).
/// A group stores its missing files' records on the remote once the groups before it are done (a
/// file's other chunks may be in their packs), so the publish finds them. What the groups settled
/// is left out of the negotiation that follows the snapshot.
/// A large file does not wait to be hashed whole: runs of its chunks join the groups as they are
/// hashed and are asked about chunk by chunk (its hash is not known yet), so the server gets work
/// within the first few megabytes of a push; once the remote turns out to hold most of a run (a
/// file renamed or touched), the rest of that file waits for its hash, which one question settles.
/// A group that fails calls <paramref name="onFailure"/> (the push stops hashing and reports it) at once.
/// </summary>
internal sealed class EarlyUpload(IRemote remote, PackingOptions packing, OperationProgress progress, Action onFailure, CancellationToken cancellationToken) : IHashListener, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<SnapshotFile> _pending = [];
    private readonly List<ChunkOrigin> _pendingRuns = [];

    // Of large files still being hashed, by source path: bytes of their runs that groups took, and
    // those the remote mostly had (their runs stop).
    private readonly Dictionary<string, long> _runBytesTaken = new(StringComparer.Ordinal);
    private readonly HashSet<string> _runsStopped = new(StringComparer.Ordinal);
    private long _pendingBytes;
    private long _groupBytes = Math.Max(1, packing.PackSize / 2);

    /// <summary>
    /// Files a group takes at most, whatever their bytes: two packs' worth of files of a few hundred
    /// bytes is hundreds of thousands of files, whose negotiation and records then all came after
    /// the hashing instead of beside it.
    /// </summary>
    private const int MaxGroupFiles = 32_768;
    private Task _negotiated = Task.CompletedTask;
    private Task _previousGroup = Task.CompletedTask;
    private Task _lastGroup = Task.CompletedTask;
    private UploadTotals _totals = new(0, 0, 0, 0);
    private Exception? _failure;

    /// <summary>
    /// Small files' bytes kept from hashing until their group packs them: at most 16 MiB (32 MiB
    /// saved no more time on 400k files of a few hundred bytes and raised the peak RSS).
    /// </summary>
    public KeptBytesBudget Keep { get; } = new(16 << 20);

    /// <summary>Frees the kept bytes that nothing packed (the push failed, or the remote had their chunks).</summary>
    public void Dispose() => Keep.Dispose();

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
    public void OnFile(SnapshotFile file)
    {
        lock (_lock)
        {
            _pending.Add(file);
            _pendingBytes += file.Content.Length - _runBytesTaken.GetValueOrDefault(file.SourcePath);
            StartGroupIfFull();
        }
    }

    /// <summary>Takes a run of a large file's chunks (on its hashing thread), unless the remote had most of an earlier one.</summary>
    public bool OnChunks(ScannedFile file, long offset, ChunkRef[] chunks)
    {
        lock (_lock)
        {
            if (_runsStopped.Contains(file.FullPath))
            {
                return false;
            }

            foreach (var chunk in chunks)
            {
                _pendingRuns.Add(ChunkOrigin.Of(file, offset, chunk));
                offset += (long)chunk.Length;
                _pendingBytes += (long)chunk.Length;
            }

            StartGroupIfFull();
            return true;
        }
    }

    /// <summary>
    /// Hashing has ended: if groups went before, what is pending forms the last group, which uploads
    /// at once. Otherwise it is left to the negotiation after the snapshot, which asks only about
    /// files that are not in a version the remote holds.
    /// </summary>
    public void OnHashingDone()
    {
        lock (_lock)
        {
            if (_lastGroup != Task.CompletedTask && (_pending.Count > 0 || _pendingRuns.Count > 0))
            {
                StartGroup(last: true);
            }
        }
    }

    private void StartGroupIfFull()
    {
        if (_pendingBytes >= _groupBytes || _pending.Count >= MaxGroupFiles)
        {
            StartGroup(last: false);
        }
    }

    private void StartGroup(bool last)
    {
        // In path order, as the files' chunks are packed: a pull reads neighbours together. A file
        // in the group brings its own chunks: its runs not yet taken are left out.
        var files = _pending.OrderBy(f => f.Entry.Path, Tree.DatasetPath.Comparer).ToList();
        var whole = files.Select(f => f.SourcePath).ToHashSet(StringComparer.Ordinal);
        var runs = _pendingRuns.Where(r => !whole.Contains(r.SourcePath)).ToList();
        long settled = 0;
        foreach (var file in files)
        {
            settled += file.Content.Length - (_runBytesTaken.Remove(file.SourcePath, out long taken) ? taken : 0);
        }

        foreach (var run in runs)
        {
            settled += run.Length;
            _runBytesTaken[run.SourcePath] = _runBytesTaken.GetValueOrDefault(run.SourcePath) + run.Length;
        }

        _pending.Clear();
        _pendingRuns.Clear();
        _pendingBytes = 0;
        _groupBytes = 2 * packing.PackSize;
        var negotiated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (negotiatedBefore, twoBack, oneBack) = (_negotiated, last ? Task.CompletedTask : _previousGroup, _lastGroup);
        _negotiated = negotiated.Task;
        _previousGroup = _lastGroup;
        // Not on the hashing thread, nor under the lock; always run (no token here), so that
        // its negotiation's completion, which the next group waits for, is always set.
        _lastGroup = Task.Run(() => RunGroupAsync(new Group(files, runs, settled, last), negotiatedBefore, negotiated, twoBack, oneBack), CancellationToken.None);
    }

    /// <summary>
    /// Waits for the groups started and throws the first group's failure, whichever group it was
    /// (each group waits for the one before it without taking on its failure). Files not in a full
    /// group are left to the caller's negotiation.
    /// </summary>
    public async Task FinishAsync()
    {
        Task last;
        lock (_lock)
        {
            last = _lastGroup;
        }

        try
        {
            await last.ConfigureAwait(false);
        }
        catch (Exception) when (_failure is not null)
        {
            // The first failure is thrown below.
        }

        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    private sealed record Group(List<SnapshotFile> Files, List<ChunkOrigin> Runs, long SettledBytes, bool Last);

    /// <summary>
    /// Lanes of the last group, which uploads beside two others: with the others' four each, ten
    /// lanes at most fill packs at once, under the remote's piece budget (twelve), and its memory
    /// (two encoded batches and up to two pieces a lane) stays small.
    /// </summary>
    private const int LastGroupLanes = 2;

    private async Task RunGroupAsync(Group group, Task negotiatedBefore, TaskCompletionSource negotiated, Task twoBack, Task oneBack)
    {
        try
        {
            List<SnapshotFile> missingFiles;
            List<ChunkOrigin> runs;
            HashSet<Hash> missingChunks;
            try
            {
                await negotiatedBefore.ConfigureAwait(false);
                runs = RunsNotStopped(group.Runs);
                missingFiles = await Negotiation.MissingFilesAsync(remote, group.Files, AskedFiles, cancellationToken).ConfigureAwait(false);
                missingChunks = await Negotiation.MissingChunksAsync(remote, missingFiles, runs, SettledChunks, cancellationToken).ConfigureAwait(false);
                StopRunsFoundOnRemote(runs, missingChunks);
                negotiated.SetResult();
            }
            catch (Exception e)
            {
                negotiated.SetException(e);
                throw;
            }

            await twoBack.ConfigureAwait(false);
            var upload = await ChunkUploader.UploadAsync(
                missingFiles, runs, missingChunks, group.SettledBytes, remote, packing, progress, oneBack, group.Last ? LastGroupLanes : ChunkUploader.MaxLanes, cancellationToken).ConfigureAwait(false);
            KeptBytes.ReleaseAll(group.Files); // those the remote had, or whose chunks it had
            lock (_lock)
            {
                _totals += upload;
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            onFailure();
            throw;
        }
        finally
        {
            // A group ends after the one before it, so that waiting for the last waits for all.
            await oneBack.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    // Runs of files whose earlier runs the remote turned out to have (in the groups before this one,
    // which negotiated first) are left to their file's hash as well: a group formed while that
    // answer was on its way would otherwise still ask about each of their chunks. Their bytes stay
    // counted as settled here, and their file's group leaves them out (_runBytesTaken).
    private List<ChunkOrigin> RunsNotStopped(List<ChunkOrigin> runs)
    {
        lock (_lock)
        {
            return _runsStopped.Count == 0 ? runs : runs.Where(r => !_runsStopped.Contains(r.SourcePath)).ToList();
        }
    }

    // A file whose runs the remote mostly had is likely there whole, under another path or with a
    // few changes: its hash, once known, settles it with one question instead of one per chunk.
    private void StopRunsFoundOnRemote(List<ChunkOrigin> runs, HashSet<Hash> missing)
    {
        foreach (var file in runs.GroupBy(r => r.SourcePath, StringComparer.Ordinal))
        {
            long found = file.Where(r => !missing.Contains(r.Hash)).Sum(r => (long)r.Length);
            if (2 * found >= file.Sum(r => (long)r.Length))
            {
                lock (_lock)
                {
                    _runsStopped.Add(file.Key);
                }
            }
        }
    }
}
