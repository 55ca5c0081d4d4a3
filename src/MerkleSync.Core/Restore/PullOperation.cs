using System.Diagnostics;
using System.Globalization;
using System.IO.Enumeration;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Concurrency;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <param name="Force">Overwrite or delete local files even if they changed since the directory last synced.</param>
/// <param name="Progress">Counters for a display to read while the pull runs.</param>
/// <param name="Sparse">Leave chunks of zeros in files over 4 MiB unwritten, as holes, as <c>restic restore --sparse</c> does.</param>
public sealed record PullOptions(
    string? Version = null, string Branch = "main", IReadOnlyList<string>? Paths = null, bool Delete = false, bool Force = false, OperationProgress? Progress = null,
    bool Sparse = false);

/// <summary>What a pull did. <see cref="PackBytesRead"/> counts stored bytes read from packs; <see cref="BytesReused"/> came from local files.</summary>
public sealed record PullResult(
    Hash VersionId, Hash Root, int FilesWritten, int FilesUnchanged, int FilesDeleted, long BytesWritten, long PackBytesRead, long ChunkBytesFetched,
    long BytesReused, TimeSpan Elapsed)
{
    /// <summary>Bytes sent and received over the network by this pull (0 for local remotes).</summary>
    public (long Sent, long Received) Wire { get; init; }

    /// <summary>Files of the version inside a <see cref="DatasetPath.StateFolderName"/> folder, which a pull never writes.</summary>
    public int StateEntriesSkipped { get; init; }
}

/// <summary>
/// Pull: plan from the version's tree, reuse chunks already in the directory, fetch the rest from
/// packs in runs, verify every chunk and every file, stage each file and rename it into place.
/// </summary>
public static class PullOperation
{
    public static async Task<PullResult> PullAsync(IRemote remote, string directory, PullOptions options, CancellationToken cancellationToken)
    {
        if (File.Exists(directory))
        {
            throw new InvalidInputException($"'{directory}' is a file; pull into a folder (a new one, or one that holds a copy of the dataset).");
        }

        var clock = Stopwatch.StartNew();
        var progress = options.Progress ?? new OperationProgress();
        progress.Enter(Stage.Planning);
        var wireAtStart = remote.WireBytes;
        var version = options.Version is { } spec
            ? await remote.ResolveAsync(spec, cancellationToken).ConfigureAwait(false)
            : await remote.GetBranchAsync(options.Branch, cancellationToken).ConfigureAwait(false)
              ?? throw new NotFoundException($"Branch '{options.Branch}' does not exist in {remote.Url}.");
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await PullVersionAsync(remote, directory, options, version, progress, clock, wireAtStart, cancellationToken).ConfigureAwait(false);
            }
            catch (PlanOutdatedException) when (attempt == 1)
            {
                // A garbage collection on the repository rewrote or dropped a pack after the plans that
                // name it were read (a pull holds no lock on the repository): plan again, once, for
                // the same version. The large files the first try verified are kept and placed.
            }
            catch (PlanOutdatedException outdated)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(outdated.InnerException!);
            }
        }
    }

    /// <summary>
    /// Refuses, before anything is downloaded, files that cannot fit: each is staged whole before any
    /// is placed, so the files they replace keep their space meanwhile. Skipped where the file
    /// system may compress what it stores (btrfs, ZFS, bcachefs), and for --sparse (holes take no
    /// space): there the files may fit in less. What fits by this count can still fill the disk (the
    /// file system's own metadata); the pull then stops as <see cref="PullVersionAsync"/> says.
    /// </summary>
    private static void EnsureRoomFor(List<TreeEntry> files, string staging, string directory)
    {
        const long Block = 4096; // what a file's last, partly filled block takes on most file systems
        long needed = files.Sum(e => (e.Size + Block - 1) / Block * Block);
        var drive = new DriveInfo(staging);
        if (needed > 0 && drive.AvailableFreeSpace < needed && drive.DriveFormat is not ("btrfs" or "zfs" or "bcachefs"))
        {
            throw new OutOfSpaceException(string.Create(CultureInfo.InvariantCulture,
                $"The pull writes {files.Count} files of {needed / 1048576.0:F1} MiB, and the file system holding '{directory}' has {drive.AvailableFreeSpace / 1048576.0:F1} MiB free (a file is placed only once all are verified, so the files it replaces keep their space until then). Nothing was downloaded or changed: free space, or pull fewer paths, and run it again."));
        }
    }

    /// <summary>
    /// After a first pull failed (or was stopped): the state folder it made, unless it holds large
    /// files verified for the next pull to place, and the folder it made, if nothing else is in it,
    /// as a failed <c>git clone</c> leaves nothing. A refusal for want of space thus takes none.
    /// </summary>
    private static void RemoveWhatAFailedFirstPullMade(string directory, bool folderIsNew)
    {
        try
        {
            string staging = ClientStateStore.StagingFolderOf(directory);
            if (Directory.Exists(staging) && Directory.EnumerateFiles(staging).Any()) // kept files; small files staged in its subfolders are gone
            {
                return;
            }

            Directory.Delete(ClientStateStore.FolderOf(directory), recursive: true);
            if (folderIsNew && !Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Leftovers, not harm: the pull's own error is the one to report.
        }
    }

    /// <summary>Placed files are recorded in the stat cache this many at a time, not all at the end.</summary>
    private const int PlacedPerRecord = 4096;

    /// <summary>Renames in flight while files are placed: the system calls wait on the file system more than they use a core.</summary>
    private static readonly int PlacingThreads = Math.Clamp(2 * Environment.ProcessorCount, 4, 16);

    /// <summary>A pack or file record that a plan named was not found while the files came in.</summary>
    private sealed class PlanOutdatedException(NotFoundException missing) : Exception(missing.Message, missing);

    private static async Task<PullResult> PullVersionAsync(
        IRemote remote, string directory, PullOptions options, VersionRef version, OperationProgress progress, Stopwatch clock, (long Sent, long Received) wireAtStart, CancellationToken cancellationToken)
    {
        string[] filters = DatasetPath.FromArguments(options.Paths ?? []);
        var tree = ListSelectedAsync(remote, version.Record.Root, filters, cancellationToken);
        if (filters.Length > 0 && !options.Delete)
        {
            // A path that selects nothing is most likely mistyped: say so before anything is created.
            // With --delete it may be what the version no longer has, for the pull to delete here.
            var selected = await tree.ConfigureAwait(false);
            if (filters.FirstOrDefault(f => !selected.Any(e => DatasetPath.IsAtOrUnder(e.Path, f))) is { } unmatched)
            {
                throw new NotFoundException($"'{unmatched}' is not in version {version.Record.Root}: nothing to pull there.");
            }
        }

        bool folderIsNew = !Directory.Exists(directory), stateFolderIsNew = !Directory.Exists(ClientStateStore.FolderOf(directory));
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidInputException($"'{directory}' cannot be created: {e.Message} Pull into a folder this user may write to.", e);
        }

        // The directory's scan and the version's tree come in while the state opens. The scan sees
        // ignored files too: the pull must not overwrite one unawares (see PullIntoAsync for --delete).
        var scan = DirectoryScanner.ScanAsync(directory, applyIgnoreFile: false, cancellationToken);
        // A directory's first pull has nothing cached, synced or staged: its state opens (most of a
        // second of CPU, the RocksDB binding's start-up) while the files come in, and is needed only
        // to place them. An existing state opens first: its stat cache and last sync come first.
        bool stateIsNew = !ClientStateStore.Exists(directory);
        var opening = stateIsNew ? Task.Run(() => ClientStateStore.Open(directory), CancellationToken.None) : Task.FromResult(ClientStateStore.Open(directory));
        bool pulled = false;
        try
        {
            var result = await PullIntoAsync(remote, directory, options, version, filters, scan, tree, opening, stateIsNew, progress, clock, wireAtStart, cancellationToken).ConfigureAwait(false);
            pulled = true;
            return result;
        }
        catch (Exception e) when (e is not OutOfSpaceException && OutOfSpaceException.IsCause(e))
        {
            throw new OutOfSpaceException(
                $"The file system holding '{directory}' is full ({e.Message}). A pull places its files only once all are verified, and keeps the large ones it verified for the next pull: free space, then run it again.", e);
        }
        finally
        {
            // Closed whatever happened, once opened (a failed open has nothing to close).
            await opening.ContinueWith(static o => { if (o.IsCompletedSuccessfully) { o.Result.Dispose(); } }, TaskScheduler.Default).ConfigureAwait(false);
            if (!pulled && stateFolderIsNew)
            {
                RemoveWhatAFailedFirstPullMade(directory, folderIsNew);
            }
        }
    }

    private static async Task<PullResult> PullIntoAsync(
        IRemote remote, string directory, PullOptions options, VersionRef version, string[] filters, Task<List<ScannedFile>> scan, Task<List<TreeEntry>> tree,
        Task<ClientStateStore> opening, bool stateIsNew, OperationProgress progress, Stopwatch clock, (long Sent, long Received) wireAtStart, CancellationToken cancellationToken)
    {
        var wanted = await tree.ConfigureAwait(false);
        // Never written: a client's state, which a version holds only if pushed before snapshots
        // left it out at every depth (or if crafted); placed, it would overwrite a state's tokens.
        int stateEntriesSkipped = wanted.RemoveAll(e => DatasetPath.IsInStateFolder(e.Path));

        // What the directory holds now (stat cache makes this cheap after a pull or push).
        progress.Enter(Stage.Scanning);
        var scanned = await scan.ConfigureAwait(false);
        IReadOnlyList<SnapshotFile> local = stateIsNew && scanned.Count == 0
            ? []
            : (await CachedSnapshotter.SnapshotAsync(scanned, opening, stateIsNew, new MemoryTreeNodeStore(), cancellationToken, progress).ConfigureAwait(false)).Snapshot.Files;
        var localByPath = local.ToDictionary(f => f.Entry.Path, StringComparer.Ordinal);
        var sources = new LocalChunkIndex();
        foreach (var file in local)
        {
            sources.Add(file);
        }

        string staging = ClientStateStore.CreateStagingFolder(directory);
        using var writer = new FileAssembler(remote, sources, staging, progress, options.Sparse);
        int wantedCount = wanted.Count;
        long wantedBytes = wanted.Sum(e => e.Size);
        // Per-file lists are made once each, not copied from one another: a pull of many small files
        // holds them all until it places them (400k files: ~1.4 KB a file at peak before).
        var toFetch = local.Count == 0 ? wanted : wanted.Where(e => !(localByPath.TryGetValue(e.Path, out var existing) && existing.Entry.FileHash == e.FileHash && existing.Entry.Mode == e.Mode)).ToList();
        int unchanged = wantedCount - toFetch.Count;
        string root = Path.GetFullPath(directory);
        List<SnapshotFile> toDelete = [];
        if (local.Count > 0)
        {
            var keep = wanted.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
            // --delete removes what a push from here would leave out of the version, not what it ignores.
            var ignore = options.Delete ? IgnoreRules.Load(directory) : null;
            // Without --delete, only what is in the way of the version's entries goes.
            toDelete = options.Delete ? local.Where(f => Selected(f.Entry.Path, filters) && !keep.Contains(f.Entry.Path) && ignore?.Excludes(f.Entry.Path) != true).ToList()
                : InTheWayOf(local, wanted, keep);
        }

        var removable = new Removable(root, options.Delete, toDelete.Select(f => f.Entry.Path).ToHashSet(StringComparer.Ordinal));

        if (!options.Force)
        {
            var affected = toFetch.Where(e => localByPath.ContainsKey(e.Path)).Select(e => (localByPath[e.Path], (TreeEntry?)e))
                .Concat(toDelete.Select(f => (f, (TreeEntry?)null)));
            await RefuseToLoseLocalChangesAsync(remote, stateIsNew ? null : await opening.ConfigureAwait(false), affected, cancellationToken).ConfigureAwait(false);
        }

        // Large files that an interrupted pull verified and staged are checked again and placed,
        // not downloaded again.
        var resumed = await VerifiedStagedFiles.TakeAsync(staging, toFetch, cancellationToken).ConfigureAwait(false);
        if (resumed.Count > 0)
        {
            var resumedPaths = resumed.Select(r => r.Entry.Path).ToHashSet(StringComparer.Ordinal);
            toFetch.RemoveAll(e => resumedPaths.Contains(e.Path)); // may be wanted itself, which is not read from here on
        }

        var staged = new List<(TreeEntry Entry, string Staged, ChunkedContent Content)>(resumed.Count + toFetch.Count);
        staged.AddRange(resumed);
        void AddStaged((TreeEntry, string, ChunkedContent) file)
        {
            lock (staged)
            {
                staged.Add(file);
            }
        }

        int placed = 0;
        long writeBytes = toFetch.Sum(e => e.Size), resumedBytes = resumed.Sum(r => r.Entry.Size);
        if (!options.Sparse)
        {
            EnsureRoomFor(toFetch, staging, directory);
        }

        progress.SetDataset(wantedCount, wantedBytes);
        progress.SetToTransfer(writeBytes, wantedBytes - writeBytes);
        progress.Enter(Stage.Downloading);
        ClientStateStore state;
        try
        {
            // Several large files at once keep the network, the CPU (verification) and the disk busy
            // together, and the small files come in batches meanwhile (in tree order: files pushed
            // together lie together in packs). The first failure stops both. Two files per core: one
            // per core left the cores idle ~15% of a 1 GiB pull (eight alternating pairs: 2.68 against
            // 2.46 s); how many ranged reads they keep going is FileAssembler's to bound.
            using var sideBySide = new SideBySide(cancellationToken);
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(2 * Environment.ProcessorCount, 4, 16), CancellationToken = sideBySide.Token };
            var large = sideBySide.RunAsync(() => Parallel.ForEachAsync(toFetch.Where(e => e.Size > FileAssembler.SmallFileBytes).OrderByDescending(e => e.Size), parallel, async (entry, ct) =>
            {
                var (path, content) = await writer.AssembleAsync(entry, ct).ConfigureAwait(false);
                AddStaged((entry, VerifiedStagedFiles.Keep(staging, path, entry.FileHash), content));
            }));
            var small = sideBySide.RunAsync(() => writer.AssembleSmallFilesAsync(toFetch.Where(e => e.Size <= FileAssembler.SmallFileBytes), AddStaged, sideBySide.Token));
            try
            {
                await sideBySide.WhenAllAsync(large, small).ConfigureAwait(false);
            }
            catch (NotFoundException missing)
            {
                throw new PlanOutdatedException(missing);
            }

            // Everything verified and staged: now replace files, each by one rename. Folders first, in
            // order (a file in a folder's way goes, or the pull stops before any file is replaced), then
            // the files, several at once (renames and stats are system calls: one thread left the other
            // cores idle), recorded in the stat cache a part at a time.
            progress.Enter(Stage.Replacing);
            state = await opening.ConfigureAwait(false);
            long hashedAt = ClientStateStore.NowNs();
            staged.Sort((a, b) => DatasetPath.Comparer.Compare(a.Entry.Path, b.Entry.Path));
            var preparedFolders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (entry, _, _) in staged)
            {
                string folder = Path.GetDirectoryName(Path.Combine(root, entry.Path))!;
                try
                {
                    PrepareFolder(root, folder, removable, preparedFolders);
                }
                catch (UnauthorizedAccessException e)
                {
                    throw new InvalidInputException(
                        $"'{Path.GetRelativePath(root, folder)}' cannot be created: {e.Message} No file was replaced: give this user write access there and run it again.", e);
                }
            }

            var placing = new ParallelOptions { MaxDegreeOfParallelism = PlacingThreads, CancellationToken = cancellationToken };
            var refused = new Exception?[PlacedPerRecord];
            for (int start = 0; start < staged.Count; start += PlacedPerRecord)
            {
                var part = new (string Path, FileStat Stat, ChunkedContent Content)[Math.Min(PlacedPerRecord, staged.Count - start)];
                int first = start;
                try
                {
                    await Parallel.ForAsync(0, part.Length, placing, async (i, ct) =>
                    {
                        var (entry, stagedPath, content) = staged[first + i];
                        string target = Path.Combine(root, entry.Path);
                        try
                        {
                            await PlaceAsync(root, target, entry.Mode, stagedPath, removable, ct).ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is UnauthorizedAccessException or InvalidInputException)
                        {
                            refused[i] = e; // the rest of this part is placed, then the pull stops
                            return;
                        }

                        part[i] = (entry.Path, FileStat.Of(target), content);
                        Interlocked.Increment(ref placed);
                    }).ConfigureAwait(false);
                }
                finally
                {
                    state.RememberAll(part.Where(p => p.Path is not null), hashedAt);
                }

                if (Array.FindIndex(refused, e => e is not null) is var at and >= 0)
                {
                    throw refused[at] as InvalidInputException ?? new InvalidInputException(
                        $"'{staged[start + at].Entry.Path}' cannot be placed: {refused[at]!.Message} The pull placed {placed} of {staged.Count} files (each with the version's content): give this user write access there and run it again.", refused[at]);
                }
            }

            if (filters.Length == 0)
            {
                VerifiedStagedFiles.RemoveAll(staging); // what earlier pulls kept and this version lacks
            }
        }
        finally
        {
            if (placed < staged.Count)
            {
                // Verified large files stay for the next pull; anything else staged goes.
                foreach (var (_, stagedPath, _) in staged.Where(s => !VerifiedStagedFiles.IsKept(s.Staged)))
                {
                    File.Delete(stagedPath);
                }
            }
        }

        foreach (var file in toDelete)
        {
            // Unless it went with its folder (a file of the version took that place) or is now a folder of the version.
            var gone = new FileInfo(Path.Combine(root, file.Entry.Path));
            if (gone.Exists || gone.LinkTarget is not null)
            {
                gone.Delete();
            }

            state.Forget(file.Entry.Path);
        }

        if (options.Delete)
        {
            RemoveEmptyDirectories(directory);
        }

        int deleted = toDelete.Count;

        await CacheTreeAsync(remote, state, version.Record.Root, cancellationToken).ConfigureAwait(false);
        if (filters.Length == 0)
        {
            state.SetSynced(remote.Url, options.Branch, version.Id, version.Record.Root);
            LastPush.Delete(state.StateFolder); // the last sync is no longer that push
        }
        else
        {
            // A partial pull is not a base to push from: pushing it would delete everything it left out.
            state.AddPartialPull(version.Record.Root);
        }

        state.NameOriginIfUnset(remote.Url);
        progress.Enter(Stage.Done);
        return new PullResult(version.Id, version.Record.Root, staged.Count, unchanged, deleted, writer.BytesWritten + resumedBytes, writer.PackBytesRead,
            writer.ChunkBytesFetched, writer.BytesReused + resumedBytes, clock.Elapsed)
        {
            Wire = (remote.WireBytes.Sent - wireAtStart.Sent, remote.WireBytes.Received - wireAtStart.Received),
            StateEntriesSkipped = stateEntriesSkipped,
        };
    }

    /// <summary>
    /// Files the pull would overwrite or delete must be as the directory's last sync (push or pull,
    /// whatever branch) or a partial pull since had them, or already have the content the pull
    /// writes there; a file edited or created since would be lost, so the pull stops first and says
    /// which. In a directory that never synced, that leaves only files with the version's content.
    /// </summary>
    private static async Task RefuseToLoseLocalChangesAsync(IRemote remote, ClientStateStore? state,
        IEnumerable<(SnapshotFile Local, TreeEntry? Wanted)> affected, CancellationToken cancellationToken)
    {
        Hash[] syncedRoots = state is null ? [] : [.. new[] { state.GetLastSynced()?.Root }.OfType<Hash>(), .. state.PartialPullRoots()];
        var nodes = state is null ? null : new LayeredNodeStore(state.Nodes, remote.Nodes);
        var changed = new List<string>();
        foreach (var (file, wanted) in affected)
        {
            if (wanted?.FileHash == file.Entry.FileHash)
            {
                continue; // only its mode changes
            }

            bool asSynced = false;
            foreach (var root in syncedRoots)
            {
                if (await TreeReader.FindAsync(nodes!, root, file.Entry.Path, cancellationToken).ConfigureAwait(false) is { } synced && synced.FileHash == file.Entry.FileHash)
                {
                    asSynced = true;
                    break;
                }
            }

            if (!asSynced)
            {
                changed.Add(file.Entry.Path);
            }
        }

        if (changed.Count > 0)
        {
            string examples = string.Join(", ", changed.Take(5));
            throw new ConflictException(syncedRoots.Length == 0
                ? $"This directory has not synced with any version, and the pull would overwrite or delete {changed.Count} file(s) it holds with other content, e.g. {examples}. Pull into an empty folder, or pull with --force to replace them."
                : $"The pull would overwrite or delete {changed.Count} file(s) changed here since the last sync, e.g. {examples}. Push them first, or pull with --force to discard them.");
        }
    }

    private static async Task<List<TreeEntry>> ListSelectedAsync(IRemote remote, Hash root, string[] filters, CancellationToken cancellationToken)
    {
        await remote.PrefetchTreeAsync(root, cancellationToken).ConfigureAwait(false); // all of it is read below
        var selected = new List<TreeEntry>();
        await foreach (var entry in TreeReader.EnumerateAsync(remote.Nodes, root, cancellationToken).ConfigureAwait(false))
        {
            if (Selected(entry.Path, filters))
            {
                selected.Add(entry);
            }
        }

        return selected;
    }

    private static bool Selected(string path, string[] filters) =>
        filters.Length == 0 || filters.Any(f => DatasetPath.IsAtOrUnder(path, f));

    /// <summary>
    /// The local files in the way of the version's entries: a file (or link) where the version has
    /// a folder, and the files in a folder where it has a file. A pull replaces them as it replaces
    /// files, so they are checked for local changes like those.
    /// </summary>
    private static List<SnapshotFile> InTheWayOf(IReadOnlyList<SnapshotFile> local, List<TreeEntry> wanted, HashSet<string> wantedPaths)
    {
        if (local.Count == 0)
        {
            return []; // a first pull: nothing can be in the way, and the version's folders need not be listed
        }

        var folders = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in wanted)
        {
            foreach (string folder in DatasetPath.Ancestors(entry.Path))
            {
                if (!folders.Add(folder))
                {
                    break; // and the folders above it
                }
            }
        }

        return [.. local.Where(f => folders.Contains(f.Entry.Path) || DatasetPath.Ancestors(f.Entry.Path).Any(wantedPaths.Contains))];
    }

    /// <summary>
    /// What a pull may remove to put an entry in place: anything with --delete; else the files it
    /// checked as in the way, and a folder only if those are all it holds (not, say, another
    /// dataset's state, which no scan lists).
    /// </summary>
    private sealed class Removable(string root, bool everything, HashSet<string> files)
    {
        public bool File(string path) => everything || files.Contains(RelativeOf(path) ?? "");

        public bool Folder(string path) => everything || Entries(path)
            .All(entry => new FileInfo(entry) is var info && (info.Attributes & FileAttributes.Directory) != 0 && info.LinkTarget is null
                ? info.Name != DatasetPath.StateFolderName
                : files.Contains(RelativeOf(entry) ?? ""));

        // Everything under the folder, links included but not followed (a link to a folder is one entry).
        private static FileSystemEnumerable<string> Entries(string folder) =>
            new(folder, static (ref FileSystemEntry entry) => entry.ToFullPath(), new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            {
                ShouldRecursePredicate = static (ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) == 0,
            };

        private string? RelativeOf(string path) =>
            DatasetPath.Validate(Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'), out string normalized) is null ? normalized : null;
    }

    // The parent chain must be folders; a file in the way goes only if removable. Each folder is
    // checked once per pull (the rename loop would otherwise stat every parent of every file).
    private static void PrepareFolder(string root, string folder, Removable removable, HashSet<string> preparedFolders)
    {
        if (preparedFolders.Contains(folder))
        {
            return;
        }

        for (string? parent = folder; parent is not null && parent.Length > root.Length; parent = Path.GetDirectoryName(parent))
        {
            bool link = new FileInfo(parent).LinkTarget is not null;
            if (link || File.Exists(parent))
            {
                if (!removable.File(parent))
                {
                    // Never followed: a link here could lead the pull's writes out of the directory.
                    throw new InvalidInputException($"'{Path.GetRelativePath(root, parent)}' is a {(link ? "symbolic link" : "file")} here but a folder in the version; pull with --delete to replace it.");
                }

                File.Delete(parent);
            }
        }

        Directory.CreateDirectory(folder);
        preparedFolders.Add(folder);
    }

    /// <summary>Renames a staged file into place (a link's staged file holds its target, and makes the link).</summary>
    private static async Task PlaceAsync(string root, string target, EntryMode mode, string stagedPath, Removable removable, CancellationToken cancellationToken)
    {
        if (mode == EntryMode.Symlink)
        {
            string linkTarget = DatasetPath.Utf8.GetString(await File.ReadAllBytesAsync(stagedPath, cancellationToken).ConfigureAwait(false));
            Place(root, target, removable, () =>
            {
                File.Delete(target);
                File.CreateSymbolicLink(target, linkTarget);
            });
            File.Delete(stagedPath);
            return;
        }

        if (mode == EntryMode.Executable)
        {
            MakeExecutable(stagedPath); // staged files are created without execute bits
        }

        Place(root, target, removable, () => File.Move(stagedPath, target, overwrite: true));
    }

    /// <summary>
    /// Puts a file at <paramref name="target"/>. A folder in the way (found only when that fails,
    /// so the common case costs no extra stat) goes only if removable.
    /// </summary>
    private static void Place(string root, string target, Removable removable, Action place)
    {
        try
        {
            place();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && Directory.Exists(target) && new DirectoryInfo(target).LinkTarget is null)
        {
            if (!removable.Folder(target))
            {
                throw new InvalidInputException($"'{Path.GetRelativePath(root, target)}' is a folder here but a file in the version, and holds what this pull does not replace; pull with --delete to replace it.");
            }

            Directory.Delete(target, recursive: true);
            place();
        }
    }

    private static void MakeExecutable(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute);
        }
    }

    private static void RemoveEmptyDirectories(string directory)
    {
        foreach (string sub in Directory.EnumerateDirectories(directory))
        {
            if (Path.GetFileName(sub) == DatasetPath.StateFolderName || new DirectoryInfo(sub).LinkTarget is not null)
            {
                continue;
            }

            RemoveEmptyDirectories(sub);
            if (!Directory.EnumerateFileSystemEntries(sub).Any())
            {
                Directory.Delete(sub);
            }
        }
    }

    private static async Task CacheTreeAsync(IRemote remote, ClientStateStore state, Hash root, CancellationToken cancellationToken)
    {
        var pending = new Stack<Hash>([root]);
        while (pending.Count > 0)
        {
            var id = pending.Pop();
            if (await state.Nodes.TryGetAsync(id, cancellationToken).ConfigureAwait(false) is not null)
            {
                continue; // cached with its whole subtree
            }

            byte[] bytes = await remote.Nodes.TryGetAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new NotFoundException($"Tree node {id} is missing.");
            var node = TreeNode.Decode(bytes);
            foreach (var child in node.Children)
            {
                pending.Push(child.NodeId);
            }

            await state.Nodes.PutAsync(id, bytes, cancellationToken).ConfigureAwait(false);
        }
    }
}
