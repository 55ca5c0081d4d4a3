using MerkleSync.Core.ClientState;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>
/// A snapshot plus how many bytes had to be read (the rest came from the stat cache). When
/// <see cref="TreeReused"/>, the entries were exactly those of a tree whose nodes are in the client
/// state, so its root was taken without building it again (and the node store given got no nodes).
/// <see cref="StatsTrusted"/> when every file's content is known by a stat the cache trusts (none was
/// modified within the racy window), so the same stats will mean the same snapshot.
/// </summary>
public sealed record CachedSnapshot(SnapshotResult Snapshot, long BytesRead, int FilesRead, Hash EntriesDigest, bool TreeReused, bool StatsTrusted);

/// <summary>Snapshots a dataset directory, reading only files whose stat changed since they were cached.</summary>
public static class CachedSnapshotter
{
    /// <param name="scanned">
    /// The dataset's files (<see cref="DirectoryScanner.ScanAsync"/>): callers start the scan before
    /// they open the state, whose first open in a process binds RocksDB (~0.5 s).
    /// </param>
    /// <param name="reuseTree">
    /// Take the root of the last remembered tree (<see cref="ClientStateStore.RememberTree"/>) when the
    /// entries are the same, instead of building it: for callers that read nodes through the state.
    /// </param>
    /// <param name="listener">Hears of each file that had to be read, with its stat, as soon as it is hashed (from several threads).</param>
    public static Task<CachedSnapshot> SnapshotAsync(
        IReadOnlyList<ScannedFile> scanned, ClientStateStore state, ITreeNodeStore store, CancellationToken cancellationToken, OperationProgress? progress = null, bool reuseTree = false,
        IHashListener? listener = null) =>
        SnapshotAsync(scanned, Task.FromResult(state), stateIsNew: false, store, cancellationToken, progress, reuseTree, listener);

    /// <summary>
    /// As above, with the state still opening: when it is new (nothing cached in it), hashing does
    /// not wait for it; it is needed only to remember what was hashed.
    /// </summary>
    public static async Task<CachedSnapshot> SnapshotAsync(
        IReadOnlyList<ScannedFile> scanned, Task<ClientStateStore> opening, bool stateIsNew, ITreeNodeStore store, CancellationToken cancellationToken, OperationProgress? progress = null,
        bool reuseTree = false, IHashListener? listener = null)
    {
        var files = new SnapshotFile[scanned.Count];
        var keys = new (string Path, FileStat Stat)[scanned.Count]; // sized once: 100k files make a 4 MB array
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = (scanned[i].Path, scanned[i].Stat ?? FileStat.Of(scanned[i].FullPath)); // the scan took the stat, except where lstat's layout is unknown
        }

        var cached = stateIsNew ? new Chunking.ChunkedContent?[keys.Length] : (await opening.ConfigureAwait(false)).Lookup(keys, cancellationToken);
        for (int i = 0; i < scanned.Count; i++)
        {
            if (cached[i] is { } content)
            {
                files[i] = new SnapshotFile(new TreeEntry(scanned[i].Path, content.FileHash, content.Length, scanned[i].Mode), content, scanned[i].FullPath, keys[i].Stat);
            }
        }

        var toRead = Enumerable.Range(0, scanned.Count).Where(i => files[i] is null).ToList();

        progress?.SetDataset(scanned.Count, scanned.Sum(f => f.Size));
        progress?.SetToRead(toRead.Sum(i => scanned[i].Size));
        progress?.Enter(Stage.Hashing);
        long hashedAt = ClientStateStore.NowNs();
        // Each hashed file carries the stat it is cached under (one object per file: 100k files
        // made three, two of them copies, which the early uploads kept alive to the end).
        var hashed = await Snapshotter.HashFilesAsync(
            [.. toRead.Select(i => scanned[i].Stat is null ? scanned[i] with { Stat = keys[i].Stat } : scanned[i])], cancellationToken, progress, listener).ConfigureAwait(false);
        var state = await opening.WaitAsync(cancellationToken).ConfigureAwait(false); // a new state may take long to open on a busy machine: a stop must not wait for it
        long bytesRead = 0;
        for (int j = 0; j < toRead.Count; j++)
        {
            int i = toRead[j];
            files[i] = hashed[j];
            bytesRead += hashed[j].Content.Length;
        }

        bool statsTrusted = state.RememberAll(toRead.Select((i, j) => (scanned[i].Path, keys[i].Stat, hashed[j].Content)), hashedAt);

        var digest = TreeFormat.EntriesDigest(files.Select(f => f.Entry));
        if (reuseTree && state.RememberedTree(digest) is { } remembered)
        {
            return new CachedSnapshot(new SnapshotResult(remembered, files), bytesRead, toRead.Count, digest, TreeReused: true, statsTrusted);
        }

        var rootId = await TreeBuilder.BuildAsync(files.Select(f => f.Entry), store, cancellationToken).ConfigureAwait(false);
        return new CachedSnapshot(new SnapshotResult(rootId, files), bytesRead, toRead.Count, digest, TreeReused: false, statsTrusted);
    }
}
