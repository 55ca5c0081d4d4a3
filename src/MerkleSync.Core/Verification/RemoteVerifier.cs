using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;
using Verdict = (string? Problem, long Chunks, long BytesRead, MerkleSync.Core.Hashing.Hash? Pack);

namespace MerkleSync.Core.Verification;

/// <summary>
/// Proves versions from the client side, trusting nothing the remote says: tree nodes are checked
/// against their ids, every file's chunk list must hash to the file hash and add up to its size,
/// and every chunk in a pack of <c>read</c> is downloaded and re-hashed. Works over any remote.
/// </summary>
public static class RemoteVerifier
{
    /// <summary>Files whose plans are asked for in one request.</summary>
    private const int FilesPerBatch = 1000;

    /// <param name="progress">Counts the bytes of packs read (how many there are to read is not known in advance: the trees are read as the check goes).</param>
    public static async Task<VerifyReport> VerifyAsync(IRemote remote, IReadOnlyList<VersionRef> versions, PackSubset read, OperationProgress? progress, CancellationToken cancellationToken)
    {
        progress?.Enter(Stage.Verifying);
        var problems = new List<VerifyProblem>();
        var checkedFiles = new Dictionary<Hash, (string? Problem, Hash? Pack)>();
        var nodes = new HashSet<Hash>();
        long chunks = 0, bytesRead = 0;
        var packsRead = new HashSet<Hash>();

        // Files are checked in batches; entries seen meanwhile wait for their file's verdict.
        var batch = new Dictionary<Hash, TreeEntry>();
        var waiting = new List<(TreeEntry Entry, Hash Version)>();
        async Task CheckBatchAsync()
        {
            foreach (var (file, (problem, fileChunks, fileBytes, pack)) in await CheckFilesAsync(remote, [.. batch.Values], read, packsRead, progress, cancellationToken).ConfigureAwait(false))
            {
                checkedFiles[file] = (problem, pack);
                chunks += fileChunks;
                bytesRead += fileBytes;
            }

            foreach (var (entry, version) in waiting)
            {
                Report(entry, version);
            }

            batch.Clear();
            waiting.Clear();
        }

        // Each use of a damaged file (file, path, version) is reported once.
        var reported = new HashSet<(Hash File, string Path, Hash Version)>();
        void Report(TreeEntry entry, Hash version)
        {
            if (checkedFiles.TryGetValue(entry.FileHash, out var verdict) && verdict is { Problem: { } problem, Pack: var pack }
                && reported.Add((entry.FileHash, entry.Path, version)))
            {
                problems.Add(new VerifyProblem("file " + entry.FileHash, problem, [entry.Path], [version]) { DamagedPack = pack });
            }
        }

        foreach (var version in versions)
        {
            try
            {
                await remote.PrefetchTreeAsync(version.Record.Root, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CorruptDataException or NotFoundException)
            {
                // The walk below reads node by node and reports the one at fault.
            }

            var pending = new Stack<Hash>([version.Record.Root]);
            while (pending.Count > 0)
            {
                var id = pending.Pop();
                if (nodes.Contains(id))
                {
                    continue; // a subtree an earlier version shares: its files are checked (their other uses are found below)
                }

                TreeNode node;
                try
                {
                    node = await TreeReader.LoadAsync(remote.Nodes, id, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is CorruptDataException or NotFoundException)
                {
                    problems.Add(new VerifyProblem("tree node " + id, e.Message, [], [version.Id]));
                    continue;
                }

                nodes.Add(id);
                foreach (var child in node.Children)
                {
                    pending.Push(child.NodeId);
                }

                foreach (var entry in node.Entries.Where(e => !e.FileHash.IsZero))
                {
                    if (checkedFiles.ContainsKey(entry.FileHash))
                    {
                        Report(entry, version.Id);
                        continue;
                    }

                    batch.TryAdd(entry.FileHash, entry);
                    waiting.Add((entry, version.Id));
                    if (batch.Count == FilesPerBatch)
                    {
                        await CheckBatchAsync().ConfigureAwait(false);
                    }
                }
            }
        }

        await CheckBatchAsync().ConfigureAwait(false);
        if (reported.Count > 0)
        {
            await ReportSharedUsesAsync(remote, versions, Report, cancellationToken).ConfigureAwait(false);
        }

        return new VerifyReport(versions.Count, nodes.Count, checkedFiles.Count, chunks, packsRead.Count, bytesRead, problems);
    }

    /// <summary>
    /// The walk reads a subtree once, at the first version that has it, so a damaged file is
    /// reported at its uses there; this reads every version's tree whole for the uses in the
    /// subtrees it stepped over. Only when something is damaged, which is rare.
    /// </summary>
    private static async Task ReportSharedUsesAsync(IRemote remote, IReadOnlyList<VersionRef> versions, Action<TreeEntry, Hash> report, CancellationToken cancellationToken)
    {
        foreach (var version in versions)
        {
            try
            {
                await foreach (var entry in TreeReader.EnumerateAsync(remote.Nodes, version.Record.Root, cancellationToken).ConfigureAwait(false))
                {
                    report(entry, version.Id);
                }
            }
            catch (Exception e) when (e is CorruptDataException or NotFoundException)
            {
                // A damaged tree was reported by the walk.
            }
        }
    }

    /// <summary>
    /// Plans for the whole batch in one request; if that fails for a missing or corrupt plan, file
    /// by file, so the problem is reported for the file it belongs to.
    /// </summary>
    private static async Task<List<(Hash File, Verdict Verdict)>> CheckFilesAsync(
        IRemote remote, IReadOnlyList<TreeEntry> files, PackSubset read, HashSet<Hash> packsRead, OperationProgress? progress, CancellationToken cancellationToken)
    {
        IReadOnlyList<FileReconstruction>? plans = null;
        try
        {
            plans = await remote.GetReconstructionsAsync([.. files.Select(f => f.FileHash)], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CorruptDataException or NotFoundException)
        {
        }

        bool readTogether = !read.IsNone && plans is not null && await TryReadTogetherAsync(remote, plans, read, progress, cancellationToken).ConfigureAwait(false);
        var verdicts = new List<(Hash, Verdict)>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            var verdict = await CheckFileAsync(remote, files[i], plans?[i], readTogether ? PackSubset.None : read, packsRead, progress, cancellationToken).ConfigureAwait(false);
            if (readTogether && verdict.Problem is null)
            {
                var segmentsRead = plans![i].Segments.Where(s => read.Includes(s.PackId)).ToList();
                packsRead.UnionWith(segmentsRead.Select(s => s.PackId));
                verdict.BytesRead = segmentsRead.Sum(s => s.Run.Sum(e => (long)e.StoredLength));
            }

            verdicts.Add((files[i].FileHash, verdict));
        }

        return verdicts;
    }

    /// <summary>
    /// Reads and verifies every chunk of the batch with one ranged read per group of neighbouring
    /// chunks in a pack. False if a chunk fails: the files are then read one by one, to blame it on
    /// its file.
    /// </summary>
    private static async Task<bool> TryReadTogetherAsync(IRemote remote, IReadOnlyList<FileReconstruction> plans, PackSubset read, OperationProgress? progress, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var pack in plans.SelectMany(p => p.Segments).Where(s => read.Includes(s.PackId)).GroupBy(s => s.PackId, s => s.Run))
            {
                var entries = pack.SelectMany(run => run).DistinctBy(e => e.Offset).ToList();
                await remote.ReadChunksInPiecesAsync(pack.Key, entries, (_, _) => ValueTask.CompletedTask, cancellationToken).ConfigureAwait(false);
                progress?.AddRead(entries.Sum(e => (long)e.StoredLength));
            }

            return true;
        }
        catch (Exception e) when (e is CorruptDataException or NotFoundException)
        {
            return false;
        }
    }

    private static async Task<Verdict> CheckFileAsync(
        IRemote remote, TreeEntry entry, FileReconstruction? planned, PackSubset read, HashSet<Hash> packsRead, OperationProgress? progress, CancellationToken cancellationToken, bool replanned = false)
    {
        FileReconstruction plan;
        try
        {
            plan = planned ?? await remote.GetReconstructionAsync(entry.FileHash, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CorruptDataException or NotFoundException)
        {
            return (e.Message, 0, 0, null);
        }

        var refs = plan.ChunkList();
        long length = refs.Sum(r => (long)r.Length);
        if (length != entry.Size || plan.Length != entry.Size)
        {
            return ($"chunks add up to {length} bytes; the tree says {entry.Size}", refs.Length, 0, null);
        }

        if (XetHashes.FileHash(refs) != entry.FileHash)
        {
            return ("chunk list does not hash to the file hash", refs.Length, 0, null);
        }

        long bytesRead = 0;
        foreach (var (packId, run) in plan.Segments.Where(s => read.Includes(s.PackId)))
        {
            try
            {
                await remote.ReadChunksInPiecesAsync(packId, run, (_, _) => ValueTask.CompletedTask, cancellationToken).ConfigureAwait(false);
            }
            catch (CorruptDataException e)
            {
                return (e.Message, refs.Length, bytesRead, packId);
            }
            catch (NotFoundException e)
            {
                // A missing pack is a problem of this file, unless a gc rewrote the pack after the
                // plan was read: then a fresh plan names where the chunks are now. Asked once.
                return replanned ? (e.Message, refs.Length, bytesRead, packId)
                    : await CheckFileAsync(remote, entry, null, read, packsRead, progress, cancellationToken, replanned: true).ConfigureAwait(false);
            }

            packsRead.Add(packId);
            long runBytes = run.Sum(e => (long)e.StoredLength);
            bytesRead += runBytes;
            progress?.AddRead(runBytes);
        }

        return (null, refs.Length, bytesRead, null);
    }
}
