using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Sync;

/// <param name="PackSize">Close a pack once it passes this many bytes (tests use small packs).</param>
/// <param name="Compression">Whether the chunks packed are compressed (when it pays) or stored raw.</param>
/// <param name="Rebase">When the branch moved since this directory last synced, replay this directory's changes on top of it (if no path changed on both sides).</param>
/// <param name="Progress">Counters for a display to read while the push runs.</param>
/// <param name="DryRun">Hash and ask the remote what it lacks, then stop: nothing is sent, resumed or published.</param>
/// <param name="Full">
/// Ask the remote about every file, not only those changed since a version it holds, and send what
/// it lacks even if it already has this version: after <c>repair</c> removed files whose chunks
/// were damaged, this sends them again from a copy that has them.
/// </param>
/// <param name="Scan">
/// A scan of the directory the caller already started (<see cref="DirectoryScanner.ScanAsync"/>),
/// so that it overlaps work done before the push, such as opening the remote.
/// </param>
public sealed record PushOptions(
    string Branch = "main", string Message = "", string? Author = null, long PackSize = PackFormat.TargetPackSize, bool Rebase = false, OperationProgress? Progress = null,
    Task<List<ScannedFile>>? Scan = null, Compression Compression = ChunkCodec.DefaultCompression, bool DryRun = false, bool Full = false);

/// <summary>What a push did; <see cref="Published"/> is false when the remote already had this exact version.</summary>
public sealed record PushResult(
    Hash VersionId, Hash Root, bool Published, long Files, long Bytes, long BytesScanned, long NewChunkBytes, long BytesWritten,
    long ChunksTotal, long ChunksNew, int Packs, TimeSpan Elapsed)
{
    /// <summary>Bytes sent and received over the network by this push (0 for local remotes).</summary>
    public (long Sent, long Received) Wire { get; init; }

    /// <summary>Packs an interrupted earlier push left half-sent, finished from their offset.</summary>
    public int ResumedPacks { get; init; }

    /// <summary>Requests retried, retries the server asked for (429/503), and times the push slowed down because of them.</summary>
    public (long Retries, long Throttles, int Backoffs) Pacing { get; init; }

    /// <summary>
    /// A dry run: <see cref="ChunksNew"/> and <see cref="NewChunkBytes"/> are what a push would send,
    /// <see cref="VersionId"/> is unknown (zero) and nothing was published.
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>For a dry run: whether a push would publish a version (the branch is not at this content yet).</summary>
    public bool WouldPublish { get; init; }
}

/// <summary>
/// Push: snapshot (stat cache) → ask which files, chunks and nodes the remote lacks → pack only
/// missing chunks → publish on top of the branch head the snapshot was compared with.
/// </summary>
public static class PushOperation
{
    public static async Task<PushResult> PushAsync(string directory, IRemote remote, PushOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var wireAtStart = remote.WireBytes;
        var retriesAtStart = remote.Retries;
        _ = RefName.Branch(options.Branch); // reject a bad name or message before any work
        if (options.Message.Length > VersionRecord.MaxMessageLength)
        {
            throw new InvalidInputException($"The message is {options.Message.Length} characters long; a version takes at most {VersionRecord.MaxMessageLength}.");
        }

        DirectoryScanner.RequireDirectory(directory);

        RefuseARepositoryInside(directory, remote);

        // What this push cost on the network, measured from its start.
        PushResult WithTransferCounters(PushResult result, int resumedPacks, int backoffs) => result with
        {
            Wire = (remote.WireBytes.Sent - wireAtStart.Sent, remote.WireBytes.Received - wireAtStart.Received),
            ResumedPacks = resumedPacks,
            Pacing = (remote.Retries.Retries - retriesAtStart.Retries, remote.Retries.Throttles - retriesAtStart.Throttles, backoffs),
        };

        var progress = options.Progress ?? new OperationProgress();
        progress.Enter(Stage.Scanning);
        var scan = options.Scan ?? DirectoryScanner.ScanAsync(directory, cancellationToken);
        // Needed after the scan (an unchanged directory compares it with its last push) or the
        // snapshot; as the process's first request it also pays for the HTTP stack's start-up
        // (~0.1 s), so it runs on the pool meanwhile.
        var headLookup = Task.Run(() => remote.GetBranchAsync(options.Branch, cancellationToken).AsTask(), cancellationToken);
        var nodes = new MemoryTreeNodeStore();
        Task<ClientStateStore>? opening = null;
        var checkpoints = new DeferredCheckpoints();
        int resumed;
        CachedSnapshot cached;
        using var earlyCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var hashing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var packing = new PackingOptions(options.PackSize, options.Compression);
        using var early = new EarlyUpload(remote, packing, progress, hashing.Cancel, earlyCancel.Token);
        Hash? fingerprint;
        try
        {
            var scanned = await scan.ConfigureAwait(false);
            fingerprint = LastPush.FingerprintOf(scanned);
            if (!options.Full && await UnchangedSinceLastPushAsync(directory, fingerprint, remote.Url, options.Branch, headLookup).ConfigureAwait(false) is { } last)
            {
                progress.Enter(Stage.Done);
                return WithTransferCounters(new PushResult(last.VersionId, last.Root, false, last.Files, last.Bytes, 0, 0, 0, last.Chunks, 0, 0, clock.Elapsed), 0, 0) with { DryRun = options.DryRun };
            }

            // A directory's first push has nothing cached and nothing to resume: its state opens
            // (most of a second, the RocksDB binding's start-up) while hashing and the first uploads
            // go on, their checkpoints held in memory until it is open. An existing state opens
            // first: its stat cache and half-sent uploads come before anything else.
            bool stateIsNew = !ClientStateStore.Exists(directory);
            opening = stateIsNew ? Task.Run(() => OpenAttached(directory, checkpoints), CancellationToken.None) : Task.FromResult(OpenAttached(directory, checkpoints));
            _ = opening.ContinueWith(_ => hashing.Cancel(), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            resumed = options.DryRun ? 0 : await remote.ResumeUploadsAsync(checkpoints, cancellationToken).ConfigureAwait(false);
            cached = await CachedSnapshotter.SnapshotAsync(scanned, opening, stateIsNew, nodes, hashing.Token, progress, reuseTree: true, options.DryRun ? null : early).ConfigureAwait(false); // awaits the state too
            early.OnHashingDone();
        }
        catch (Exception e)
        {
            await earlyCancel.CancelAsync().ConfigureAwait(false);
            var earlyGroups = early.FinishAsync();
            // Observed; the first error wins. The state closes once nothing writes checkpoints to it.
            // A push the user stopped with nothing to record does not wait for a new state to open:
            // the RocksDB binding runs at the lowest priority and, on a busy machine, took 20-30 s.
            await Task.WhenAll(headLookup, earlyGroups).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            if (opening is not null && !(cancellationToken.IsCancellationRequested && !opening.IsCompleted && !checkpoints.HoldsAny))
            {
                await opening.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }

            if (opening is { IsCompletedSuccessfully: true })
            {
                opening.Result.Dispose();
            }
            else
            {
                _ = opening?.ContinueWith(static o => o.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Hashing stopped because an early group failed or the state did not open: report why.
                if ((earlyGroups.Exception ?? opening?.Exception)?.InnerException is { } failure)
                {
                    ExceptionDispatchInfo.Throw(failure);
                }
            }

            throw;
        }

        using var state = await opening.ConfigureAwait(false);
        var (snapshot, bytesScanned, _, entriesDigest, treeReused, statsTrusted) = cached;
        progress.Enter(Stage.Negotiating);
        await Task.WhenAll(headLookup, early.FinishAsync()).ConfigureAwait(false);
        var head = await headLookup.ConfigureAwait(false);
        if (!options.DryRun)
        {
            // Now that the remote has answered: a first push that fails or is killed from here on
            // can be run again as 'push DIR'.
            state.NameOriginIfUnset(remote.Url);
        }

        if (treeReused && head?.Record.Root != snapshot.Root)
        {
            // Something is to publish after all: its nodes are needed in hand.
            await TreeBuilder.BuildAsync(snapshot.Files.Select(f => f.Entry), nodes, cancellationToken).ConfigureAwait(false);
        }

        // A branch this directory never synced with but that starts at a version it did sync (made
        // by 'merklesync branch') is based on that version.
        var synced = state.GetSynced(remote.Url, options.Branch) ?? (head is null ? null : state.FindSynced(remote.Url, head.Id));
        long chunksTotal = snapshot.ChunkCount;
        PushResult DryRunResult(long chunks, long bytes, bool wouldPublish) => WithTransferCounters(
            new PushResult(default, snapshot.Root, false, snapshot.Files.Count, snapshot.TotalBytes, bytesScanned, bytes, 0, chunksTotal, chunks, 0, clock.Elapsed), 0, 0)
            with { DryRun = true, WouldPublish = wouldPublish };

        LastPush? Seal(VersionRef version) => statsTrusted && fingerprint is { } print
            ? new LastPush(print, remote.Url, options.Branch, version.Id, version.Record.Root, snapshot.Files.Count, snapshot.TotalBytes, chunksTotal)
            : null;

        bool publish = head?.Record.Root != snapshot.Root;
        if (head is not null && !publish && !options.Full)
        {
            progress.Enter(Stage.Done);
            if (options.DryRun)
            {
                return DryRunResult(0, 0, wouldPublish: false);
            }

            await RememberAsync(state, remote, options.Branch, head, nodes, (entriesDigest, snapshot.Root), Seal(head), cancellationToken).ConfigureAwait(false);
            return WithTransferCounters(
                new PushResult(head.Id, snapshot.Root, false, snapshot.Files.Count, snapshot.TotalBytes, bytesScanned, 0, 0, chunksTotal, 0, 0, clock.Elapsed), resumed, 0);
        }

        // Negotiate what the early rounds did not settle. Only the branch head is known to be on the
        // remote with all its files: a synced version the branch moved away from may be gone
        // (collected, or the repository recreated at this URL).
        var onRemote = synced is { } s && s.Id == head?.Id && !options.Full ? s.Root : (Hash?)null;
        var candidates = await FilesNotInAsync(onRemote, snapshot, state, nodes, cancellationToken).ConfigureAwait(false);
        var missingFiles = await Negotiation.MissingFilesAsync(remote, candidates, early.AskedFiles, cancellationToken).ConfigureAwait(false);
        var missingChunks = await Negotiation.MissingChunksAsync(remote, missingFiles, [], early.SettledChunks, cancellationToken).ConfigureAwait(false);
        if (options.DryRun)
        {
            progress.Enter(Stage.Done);
            var wouldSend = ChunkUploader.PendingChunks(missingFiles, [], missingChunks);
            return DryRunResult(wouldSend.Count, wouldSend.Sum(c => (long)c.Length), publish);
        }

        var upload = early.Totals + await ChunkUploader.UploadAsync(missingFiles, [], missingChunks, snapshot.TotalBytes, remote, packing, progress, Task.CompletedTask, ChunkUploader.MaxLanes, cancellationToken).ConfigureAwait(false);
        KeptBytes.ReleaseAll(snapshot.Files); // nothing reads them now: free them before the publish
        if (publish)
        {
            progress.Enter(Stage.Publishing);
        }

        var published = publish ? await PublishOnBaseAsync(remote, state, nodes, snapshot.Root, head, synced, options, cancellationToken).ConfigureAwait(false) : head!;
        await RememberAsync(state, remote, options.Branch, published, nodes, (entriesDigest, snapshot.Root), Seal(published), cancellationToken).ConfigureAwait(false);
        progress.Enter(Stage.Done);
        return WithTransferCounters(new PushResult(published.Id, published.Record.Root, publish, snapshot.Files.Count, snapshot.TotalBytes, bytesScanned,
            upload.RawBytes, upload.StoredBytes, chunksTotal, upload.Chunks, upload.Packs, clock.Elapsed), resumed, packing.Pacer.Backoffs);
    }

    // A file:// repository inside DIR would be snapshotted, and read, while the push writes to it.
    private static void RefuseARepositoryInside(string directory, IRemote remote)
    {
        if (remote is not LocalRemote local)
        {
            return;
        }

        string relative = Path.GetRelativePath(Path.GetFullPath(directory), Path.GetFullPath(local.Repository.Path)).Replace(Path.DirectorySeparatorChar, '/');
        bool inside = relative == "." || !(relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative));
        if (inside && !(relative != "." && IgnoreRules.Load(directory)?.ExcludesFolder(relative) == true))
        {
            throw new InvalidInputException(relative == "."
                ? $"'{directory}' is the repository itself; push a dataset folder to it."
                : $"The repository is inside '{directory}' (at '{relative}'), so the push would take it into the snapshot; keep it elsewhere, or list '{relative}/' in {IgnoreRules.FileName}.");
        }
    }

    private static ClientStateStore OpenAttached(string directory, DeferredCheckpoints checkpoints)
    {
        var state = ClientStateStore.Open(directory);
        try
        {
            checkpoints.Attach(state);
            return state;
        }
        catch (Exception)
        {
            state.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The snapshot's files that are not in a version the remote holds (its files are there
    /// already), found by diffing the two trees: negotiation then grows with the changes, not with
    /// the dataset. All files when there is no such version or its tree is not cached here.
    /// </summary>
    private static async Task<IEnumerable<SnapshotFile>> FilesNotInAsync(
        Hash? remoteRoot, SnapshotResult snapshot, ClientStateStore state, MemoryTreeNodeStore nodes, CancellationToken cancellationToken)
    {
        if (remoteRoot is not { } root)
        {
            return snapshot.Files;
        }

        var changed = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await foreach (var change in TreeDiff.DiffAsync(new LayeredNodeStore(nodes, state.Nodes), root, snapshot.Root, cancellationToken).ConfigureAwait(false))
            {
                if (change.New is not null)
                {
                    changed.Add(change.Path);
                }
            }
        }
        catch (NotFoundException)
        {
            return snapshot.Files;
        }

        return snapshot.Files.Where(f => changed.Contains(f.Entry.Path));
    }

    /// <summary>
    /// Publishes the snapshot as the branch's next version, but only on top of the version this
    /// directory was last synced with: if someone else published since, the push is a conflict
    /// (their changes are not in this directory), unless <see cref="PushOptions.Rebase"/> replays
    /// this directory's changes on top of theirs. A branch the directory never synced with counts
    /// as based on an empty version. Bounded: a rebase is tried at most three times.
    /// </summary>
    private static async Task<VersionRef> PublishOnBaseAsync(
        IRemote remote, ClientStateStore state, MemoryTreeNodeStore nodes, Hash root, VersionRef? head, (Hash Id, Hash Root)? synced,
        PushOptions options, CancellationToken cancellationToken)
    {
        string author = options.Author ?? Environment.UserName;
        for (int attempt = 0; ; attempt++)
        {
            var target = root;
            if (head is not null && head.Id != synced?.Id)
            {
                if (!options.Rebase || attempt >= 3)
                {
                    throw new ConflictException(
                        $"Branch '{options.Branch}' is at version {head.Record.Root}, published after this directory last synced{(synced is { } s ? $" (at {s.Root})" : " (it never did)")}: "
                        + "pushing would drop those changes. Pull first, or push with --rebase to put this directory's changes on top.");
                }

                target = await RebaseAsync(remote, state, nodes, root, head, synced?.Root, cancellationToken).ConfigureAwait(false);
            }

            var nodeIds = nodes.Ids.ToList();
            bool[] haveNodes = await remote.HaveNodesAsync(nodeIds, cancellationToken).ConfigureAwait(false);
            var newNodes = new List<KeyValuePair<Hash, byte[]>>();
            for (int i = 0; i < nodeIds.Count; i++)
            {
                if (!haveNodes[i])
                {
                    newNodes.Add(new(nodeIds[i], (await nodes.TryGetAsync(nodeIds[i], cancellationToken).ConfigureAwait(false))!));
                }
            }

            await remote.StoreNodesAsync(newNodes, cancellationToken).ConfigureAwait(false);
            try
            {
                return await remote.PublishAsync(new PublishRequest(options.Branch, head?.Id, target, author, options.Message), cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException) when (options.Rebase && attempt < 3)
            {
                // Someone published between our look and our publish: look again and replay.
                head = await remote.GetBranchAsync(options.Branch, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Our changes (base → ours) applied to their version; a path changed differently on both sides is a conflict.</summary>
    private static async Task<Hash> RebaseAsync(
        IRemote remote, ClientStateStore state, MemoryTreeNodeStore nodes, Hash ours, VersionRef theirs, Hash? baseRoot, CancellationToken cancellationToken)
    {
        var store = new LayeredNodeStore(nodes, state.Nodes, remote.Nodes);
        var @base = baseRoot ?? await TreeBuilder.BuildAsync([], nodes, cancellationToken).ConfigureAwait(false);
        var mine = new Dictionary<string, TreeChange>(StringComparer.Ordinal);
        await foreach (var change in TreeDiff.DiffAsync(store, @base, ours, cancellationToken).ConfigureAwait(false))
        {
            mine[change.Path] = change;
        }

        var conflicts = new List<string>();
        await foreach (var change in TreeDiff.DiffAsync(store, @base, theirs.Record.Root, cancellationToken).ConfigureAwait(false))
        {
            if (mine.TryGetValue(change.Path, out var my) && my.New != change.New)
            {
                conflicts.Add(change.Path);
            }
        }

        if (conflicts.Count > 0)
        {
            throw new ConflictException($"Cannot rebase: {conflicts.Count} path(s) changed both here and in version {theirs.Record.Root}, e.g. {string.Join(", ", conflicts.Take(5))}. Pull and resolve, then push.");
        }

        var merged = new SortedDictionary<string, TreeEntry>(DatasetPath.Comparer);
        await foreach (var entry in TreeReader.EnumerateAsync(store, theirs.Record.Root, cancellationToken).ConfigureAwait(false))
        {
            merged[entry.Path] = entry;
        }

        foreach (var change in mine.Values)
        {
            if (change.New is { } entry)
            {
                merged[change.Path] = entry;
            }
            else
            {
                merged.Remove(change.Path);
            }
        }

        return await TreeBuilder.BuildAsync(merged.Values, nodes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The last push from <paramref name="directory"/> if its scan had the same fingerprint and
    /// pushed to the same branch, which is still at the version it made: then nothing is to push, and
    /// the state need not be opened.
    /// </summary>
    private static async Task<LastPush?> UnchangedSinceLastPushAsync(string directory, Hash? fingerprint, string remoteUrl, string branch, Task<VersionRef?> headLookup) =>
        LastPush.ReadMatching(ClientStateStore.FolderOf(directory), fingerprint) is { } last
            && last.RemoteUrl == remoteUrl && last.Branch == branch
            && (await headLookup.ConfigureAwait(false))?.Id == last.VersionId
            ? last
            : null;

    /// <summary>
    /// Records the synced version, the new tree nodes, which entries make the snapshot's tree (so an
    /// unchanged directory need not build it again), and <paramref name="seal"/> (dropping an older
    /// one when this push's stats cannot be trusted).
    /// </summary>
    private static async Task RememberAsync(
        ClientStateStore state, IRemote remote, string branch, VersionRef version, MemoryTreeNodeStore nodes, (Hash EntriesDigest, Hash Root) tree, LastPush? seal,
        CancellationToken cancellationToken)
    {
        // Only new nodes: rewriting them all would grow the state's log by the whole tree on every push.
        foreach (var id in nodes.Ids.Where(id => !state.HasNode(id)))
        {
            await state.Nodes.PutAsync(id, (await nodes.TryGetAsync(id, cancellationToken).ConfigureAwait(false))!, cancellationToken).ConfigureAwait(false);
        }

        state.RememberTree(tree.EntriesDigest, tree.Root);
        state.SetSynced(remote.Url, branch, version.Id, version.Record.Root);
        if (seal is null)
        {
            LastPush.Delete(state.StateFolder);
        }
        else
        {
            seal.Write(state.StateFolder);
        }
    }
}
