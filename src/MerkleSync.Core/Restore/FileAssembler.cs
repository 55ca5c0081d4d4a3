using System.Buffers;
using Microsoft.Win32.SafeHandles;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <summary>
/// Builds one file of a version in a staging folder: chunks found locally are copied (after
/// checking their hash), the rest are fetched from packs in runs of consecutive chunks. The file
/// hash is recomputed from the verified chunks before the file is handed back.
/// </summary>
/// <param name="sparse">Leave chunks of zeros in large files unwritten, as holes (pull --sparse).</param>
internal sealed partial class FileAssembler(IRemote remote, LocalChunkIndex local, string stagingFolder, OperationProgress progress, bool sparse)
{
    private static readonly ReadOnlyMemory<byte> ZeroChunk = new byte[ChunkingParameters.MaximumChunkSize];

    /// <summary>Largest ranged read: keeps memory flat however large the file.</summary>
    private const long MaxReadBytes = RemoteExtensions.MaxReadBytes;

    private long _bytesWritten;
    private long _packBytesRead;
    private long _chunkBytesFetched;
    private long _bytesReused;

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public long PackBytesRead => Interlocked.Read(ref _packBytesRead);

    public long ChunkBytesFetched => Interlocked.Read(ref _chunkBytesFetched);

    public long BytesReused => Interlocked.Read(ref _bytesReused);

    public async Task<(string Path, ChunkedContent Content)> AssembleAsync(TreeEntry entry, CancellationToken cancellationToken)
    {
        string staged = Path.Combine(stagingFolder, ClientStateStore.StagedFileName());
        var chunks = new List<ChunkRef>();
        try
        {
            // Unbuffered: chunks are 64 KiB on average, and a buffered FileStream's copy (and, as
            // measured, a new 64 KiB buffer for nearly every write) gained nothing. Readable too:
            // a chunk the file repeats is copied from where the file already has it.
            await using (var output = new FileStream(staged, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
            {
                if (!entry.FileHash.IsZero)
                {
                    var plan = await remote.GetReconstructionAsync(entry.FileHash, cancellationToken).ConfigureAwait(false);
                    var file = new StagedFile(output, chunks, sparse);
                    foreach (var (packId, run) in plan.Segments)
                    {
                        await WriteSegmentAsync(packId, run, file, cancellationToken).ConfigureAwait(false);
                    }

                    file.EndHoles();
                }
            }

            var content = new ChunkedContent(XetHashes.FileHash([.. chunks]), chunks.Sum(c => (long)c.Length), [.. chunks]);
            if (content.FileHash != entry.FileHash || content.Length != entry.Size)
            {
                throw new CorruptDataException($"'{entry.Path}' reassembles to {content.FileHash} ({content.Length} bytes), not {entry.FileHash} ({entry.Size} bytes).");
            }

            local.Add(staged, chunks);
            Interlocked.Add(ref _bytesWritten, content.Length);
            return (staged, content);
        }
        catch
        {
            File.Delete(staged);
            throw;
        }
    }

    /// <summary>The file being built, and where each chunk it holds first lies in it.</summary>
    private sealed class StagedFile(FileStream output, List<ChunkRef> chunks, bool sparse)
    {
        private readonly Dictionary<Hash, long> _first = [];

        public FileStream Output => output;

        public bool TryGetEarlier(Hash chunk, out long offset) => _first.TryGetValue(chunk, out offset);

        public async ValueTask WriteAsync(Hash chunk, ReadOnlyMemory<byte> raw, CancellationToken cancellationToken)
        {
            _first.TryAdd(chunk, output.Position);
            if (sparse && !raw.Span.ContainsAnyExcept((byte)0))
            {
                output.Seek(raw.Length, SeekOrigin.Current); // a new file reads zeros where nothing was written
            }
            else
            {
                await output.WriteAsync(raw, cancellationToken).ConfigureAwait(false);
            }

            chunks.Add(new ChunkRef(chunk, (ulong)raw.Length));
        }

        /// <summary>Gives the file its full length when it ends in a hole.</summary>
        public void EndHoles()
        {
            if (output.Position > output.Length)
            {
                output.SetLength(output.Position);
            }
        }
    }

    private async Task WriteSegmentAsync(Hash packId, PackEntry[] run, StagedFile file, CancellationToken cancellationToken)
    {
        int start = 0;
        while (start < run.Length)
        {
            var first = run[start];
            if (XetHashes.IsZeroChunk(first.ChunkHash))
            {
                // A run of zeros (a sparse file's hole) is cut into these: their bytes are known, so
                // they are neither read back from the file nor fetched.
                await file.WriteAsync(first.ChunkHash, ZeroChunk, cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _bytesReused, ZeroChunk.Length);
                progress.AddTransferred(ZeroChunk.Length);
                start++;
                continue;
            }

            if (file.TryGetEarlier(first.ChunkHash, out long earlier))
            {
                // Padding, repeated records (zero chunks of the maximum size are placed above): without this each repeat was one more ranged read.
                await CopyLocalAsync(packId, first, data => TryReadVerifiedAsync(first.ChunkHash, file.Output.SafeFileHandle, earlier, data, cancellationToken), file, cancellationToken).ConfigureAwait(false);
                start++;
                continue;
            }

            if (local.TryGet(first.ChunkHash, out var source))
            {
                await CopyLocalAsync(packId, first, data => TryReadLocalAsync(first.ChunkHash, source, data, cancellationToken), file, cancellationToken).ConfigureAwait(false);
                start++;
                continue;
            }

            // A run of chunks that must come from the pack: one ranged read, of bounded size.
            int end = start + 1;
            while (end < run.Length && !XetHashes.IsZeroChunk(run[end].ChunkHash) && !file.TryGetEarlier(run[end].ChunkHash, out _) && !local.TryGet(run[end].ChunkHash, out _)
                && run[end].Offset + run[end].StoredLength - first.Offset <= MaxReadBytes)
            {
                end++;
            }

            var fetch = run.AsMemory(start, end - start);
            Interlocked.Add(ref _packBytesRead, fetch.Span[^1].Offset + fetch.Span[^1].StoredLength - first.Offset);
            await remote.ReadChunksAsync(packId, fetch, async (entry, raw) =>
            {
                await file.WriteAsync(entry.ChunkHash, raw, cancellationToken).ConfigureAwait(false);
                CountFetched(entry.RawLength);
            }, cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }

    /// <summary>Copies a chunk that <paramref name="tryRead"/> finds locally and verifies; from its pack if that fails.</summary>
    private async Task CopyLocalAsync(Hash packId, PackEntry entry, Func<Memory<byte>, Task<bool>> tryRead, StagedFile file, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(entry.RawLength);
        try
        {
            var data = buffer.AsMemory(0, entry.RawLength);
            if (!await tryRead(data).ConfigureAwait(false))
            {
                Interlocked.Add(ref _packBytesRead, entry.StoredLength);
                CountFetched(entry.RawLength);
                await remote.ReadChunksAsync(packId, new[] { entry }, (_, raw) => file.WriteAsync(entry.ChunkHash, raw, cancellationToken), cancellationToken).ConfigureAwait(false);
                return;
            }

            await file.WriteAsync(entry.ChunkHash, data, cancellationToken).ConfigureAwait(false);
            progress.AddTransferred(entry.RawLength);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a chunk from a local file into <paramref name="destination"/> (its exact length) and
    /// checks its hash. False when the local copy changed since it was indexed: fetch it instead.
    /// </summary>
    private async Task<bool> TryReadLocalAsync(Hash chunk, (string Path, long Offset, int Length) source, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(source.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
        return await TryReadVerifiedAsync(chunk, handle, source.Offset, destination, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> TryReadVerifiedAsync(Hash chunk, SafeFileHandle handle, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int read = await RandomAccess.ReadAsync(handle, destination, offset, cancellationToken).ConfigureAwait(false);
        if (read != destination.Length || XetHashes.ChunkHash(destination.Span) != chunk)
        {
            return false;
        }

        Interlocked.Add(ref _bytesReused, destination.Length);
        return true;
    }

    /// <summary>A chunk placed from a pack: the pull's result and its progress count it alike.</summary>
    private void CountFetched(long rawBytes)
    {
        Interlocked.Add(ref _chunkBytesFetched, rawBytes);
        progress.AddTransferred(rawBytes);
    }
}
