using System.Buffers;
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
internal sealed partial class FileAssembler(IRemote remote, LocalChunkIndex local, string stagingFolder, OperationProgress progress)
{
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
            // measured, a new 64 KiB buffer for nearly every write) gained nothing.
            await using (var output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
            {
                if (!entry.FileHash.IsZero)
                {
                    var plan = await remote.GetReconstructionAsync(entry.FileHash, cancellationToken).ConfigureAwait(false);
                    foreach (var (packId, run) in plan.Segments)
                    {
                        await WriteSegmentAsync(packId, run, output, chunks, cancellationToken).ConfigureAwait(false);
                    }
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

    private async Task WriteSegmentAsync(Hash packId, PackEntry[] run, FileStream output, List<ChunkRef> chunks, CancellationToken cancellationToken)
    {
        int start = 0;
        while (start < run.Length)
        {
            if (local.TryGet(run[start].ChunkHash, out var source))
            {
                await CopyLocalAsync(packId, run[start], source, output, cancellationToken).ConfigureAwait(false);
                chunks.Add(new ChunkRef(run[start].ChunkHash, (ulong)run[start].RawLength));
                start++;
                continue;
            }

            // A run of chunks that must come from the pack: one ranged read, of bounded size.
            int end = start + 1;
            while (end < run.Length && !local.TryGet(run[end].ChunkHash, out _) && run[end].Offset + run[end].StoredLength - run[start].Offset <= MaxReadBytes)
            {
                end++;
            }

            var fetch = run.AsMemory(start, end - start);
            Interlocked.Add(ref _packBytesRead, fetch.Span[^1].Offset + fetch.Span[^1].StoredLength - fetch.Span[0].Offset);
            await remote.ReadChunksAsync(packId, fetch, async (entry, raw) =>
            {
                await output.WriteAsync(raw, cancellationToken).ConfigureAwait(false);
                chunks.Add(new ChunkRef(entry.ChunkHash, (ulong)entry.RawLength));
                CountFetched(entry.RawLength);
            }, cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }

    private async Task CopyLocalAsync(Hash packId, PackEntry entry, (string Path, long Offset, int Length) source, FileStream output, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(source.Length);
        try
        {
            var data = buffer.AsMemory(0, source.Length);
            if (!await TryReadLocalAsync(entry.ChunkHash, source, data, cancellationToken).ConfigureAwait(false))
            {
                Interlocked.Add(ref _packBytesRead, entry.StoredLength);
                CountFetched(entry.RawLength);
                await remote.ReadChunksAsync(packId, new[] { entry }, (_, raw) => output.WriteAsync(raw, cancellationToken), cancellationToken).ConfigureAwait(false);
                return;
            }

            await output.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            progress.AddTransferred(source.Length);
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
        int read;
        using (var handle = File.OpenHandle(source.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous))
        {
            read = await RandomAccess.ReadAsync(handle, destination, source.Offset, cancellationToken).ConfigureAwait(false);
        }

        if (read != source.Length || XetHashes.ChunkHash(destination.Span) != chunk)
        {
            return false;
        }

        Interlocked.Add(ref _bytesReused, source.Length);
        return true;
    }

    /// <summary>A chunk placed from a pack: the pull's result and its progress count it alike.</summary>
    private void CountFetched(long rawBytes)
    {
        Interlocked.Add(ref _chunkBytesFetched, rawBytes);
        progress.AddTransferred(rawBytes);
    }
}
