using System.Buffers;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>Chunks and hashes every file of a directory on all cores and builds the snapshot tree.</summary>
public static class Snapshotter
{
    public static async Task<SnapshotResult> SnapshotAsync(string root, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        var scanned = DirectoryScanner.Scan(root);
        var files = await HashFilesAsync(scanned, cancellationToken).ConfigureAwait(false);
        var rootId = await TreeBuilder.BuildAsync(files.Select(f => f.Entry), store, cancellationToken).ConfigureAwait(false);
        return new SnapshotResult(rootId, files);
    }

    /// <summary>
    /// Hashes the large files first, largest first and one after another (each hashes on every core
    /// by itself, so none finishes last alone, and the first is done, for a push to start sending, a
    /// fraction of the way in), then the rest in parallel in input order (path order: files a push
    /// sends early then lie together in packs, as a pull reads them). Keeps input order. Each file
    /// keeps the stat its scan took.
    /// <paramref name="listener"/> hears of each file as soon as it is done, on the thread that
    /// hashed it, and of a large file's chunks while it is read.
    /// </summary>
    public static async Task<SnapshotFile[]> HashFilesAsync(
        IReadOnlyList<ScannedFile> scanned, CancellationToken cancellationToken, OperationProgress? progress = null, IHashListener? listener = null)
    {
        var results = new SnapshotFile[scanned.Count];
        KeepSpareThreads();
        var large = Enumerable.Range(0, scanned.Count).Where(i => HashThreadsFor(scanned[i].Size) > 0).OrderByDescending(i => scanned[i].Size);
        foreach (int i in large)
        {
            await HashAsync(i, cancellationToken).ConfigureAwait(false);
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, scanned.Count).Where(i => HashThreadsFor(scanned[i].Size) == 0), options, HashAsync).ConfigureAwait(false);
        return results;

        async ValueTask HashAsync(int i, CancellationToken ct)
        {
            var file = scanned[i];
            ChunkedContent content;
            KeptBytes? kept;
            try
            {
                (content, kept) = await HashAndKeepAsync(file, progress, listener, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new InvalidInputException($"'{file.FullPath}' was listed but is gone (deleted or renamed since); run the command again.", e);
            }
            catch (UnauthorizedAccessException e)
            {
                throw DirectoryScanner.PermissionDenied(file.FullPath, "file", e);
            }

            results[i] = new SnapshotFile(new TreeEntry(file.Path, content.FileHash, content.Length, file.Mode), content, file.FullPath, file.Stat, kept);
            listener?.OnFile(results[i]);
        }
    }

    /// <summary>The content of one scanned file; a symlink's content is its target path.</summary>
    public static async ValueTask<ChunkedContent> HashFileAsync(ScannedFile file, CancellationToken cancellationToken, OperationProgress? progress = null) =>
        (await HashAndKeepAsync(file, progress, listener: null, cancellationToken).ConfigureAwait(false)).Content;

    /// <summary><see cref="HashFileAsync"/>, keeping a small file's bytes when the listener has room for them.</summary>
    private static async ValueTask<(ChunkedContent Content, KeptBytes? Kept)> HashAndKeepAsync(
        ScannedFile file, OperationProgress? progress, IHashListener? listener, CancellationToken cancellationToken)
    {
        if (file.Mode == EntryMode.Symlink)
        {
            return (ContentHasher.Hash(ChunkSource.SymlinkContent(file.FullPath)), null);
        }

        if (file.Size <= WholeReadLimit && HashWhole(file.FullPath, (int)file.Size, progress, listener?.Keep) is { } whole)
        {
            return whole;
        }

        await using Stream stream = progress is null ? OpenForRead(file.FullPath) : new ReadCountingStream(OpenForRead(file.FullPath), progress.AddRead);
        return (await ContentHasher.HashAsync(stream, cancellationToken, HashThreadsFor(file.Size), onHashed: listener is null ? null : new ChunkRuns(file, listener).Add).ConfigureAwait(false), null);
    }

    /// <summary>Passes a large file's hashed chunks on with their offsets, until the listener wants no more.</summary>
    private sealed class ChunkRuns(ScannedFile file, IHashListener listener)
    {
        private long _offset;
        private bool _wanted = true;

        public void Add(ChunkRef[] chunks)
        {
            long offset = _offset;
            foreach (var chunk in chunks)
            {
                _offset += (long)chunk.Length;
            }

            if (_wanted && chunks.Length > 0)
            {
                _wanted = listener.OnChunks(file, offset, chunks);
            }
        }
    }

    /// <summary>
    /// Files up to this size are read with one blocking read on the hashing thread. .NET has no
    /// asynchronous file reads on Unix: a read awaited there is the same blocking read, queued to
    /// another pool thread whose wake-up and continuation cost more than reading a small file, and a
    /// stream also reads once more to find the end. A first push of 100k files of 1-16 KiB spent
    /// about a third of its client CPU on such per-file costs.
    /// </summary>
    private const int WholeReadLimit = 256 << 10;

    /// <summary>
    /// The content of a file whose size the scan gave, read whole in one read of one byte more: a
    /// regular file's read comes back short only at its end. Null when the size changed since the
    /// scan; the caller then streams the file.
    /// </summary>
    private static (ChunkedContent Content, KeptBytes? Kept)? HashWhole(string path, int size, OperationProgress? progress, KeptBytesBudget? keep)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(size + 1);
        try
        {
            int read;
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                read = RandomAccess.Read(handle, buffer.AsSpan(0, size + 1), 0);
            }

            if (read != size)
            {
                return null;
            }

            progress?.AddRead(read);
            return (ContentHasher.Hash(buffer.AsSpan(0, size)), keep?.TryKeep(buffer.AsSpan(0, size)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Hashing keeps as many pool threads busy as there are cores, each with work from its own
    /// queue, and the pool adds threads only in steps of about half a second: a push's early uploads
    /// (and the server's requests, in tests that host it) waited behind it. In a first push of the
    /// 1 GiB set the server got its first pack after ~1 s instead of ~0.4 s, and a test saw the
    /// first upload start only once all 40 MB were hashed. Two threads more than cores let them go.
    /// </summary>
    private static void KeepSpareThreads()
    {
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        if (workers < Environment.ProcessorCount + 2)
        {
            ThreadPool.SetMinThreads(Environment.ProcessorCount + 2, completionPorts);
        }
    }

    /// <summary>
    /// Large files also hash their chunks on other cores while this one chunks; small files are
    /// cheaper on one thread, and there are usually many of them to run side by side.
    /// </summary>
    private static int HashThreadsFor(long size) => size >= ParallelHashThreshold ? Math.Max(1, Environment.ProcessorCount) : 0;

    private const long ParallelHashThreshold = 16 << 20;

    /// <summary>Opens a file for one sequential pass; the chunker does its own large reads, so no FileStream buffer.</summary>
    public static FileStream OpenForRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan | FileOptions.Asynchronous);
}
