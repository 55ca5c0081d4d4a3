using System.Runtime.CompilerServices;
using MerkleSync.Core.Buffers;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Collections;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Consecutive chunks of a push read from their sources (no re-chunking), checked and encoded into
/// one pooled buffer, each where its raw bytes were read (a chunk is never stored larger than raw).
/// Dispose it once its chunks are packed.
/// </summary>
internal sealed class EncodedBatch : IDisposable
{
    /// <summary>Raw bytes of a batch at most; a batch holds at least one chunk.</summary>
    public const int MaxBytes = 1 << 20;

    // All batches use one buffer size, and a lane holds two (one packed while the next is encoded),
    // so a push keeps a few MiB here however long it runs. Per-chunk buffers of four sizes used to
    // pile up to the peak count of each size, which grew with the length of the push.
    private static readonly LargeBufferPool Pool = new(MaxBytes);

    private readonly ArraySegment<ChunkOrigin> _chunks;
    private readonly int[] _offsets;
    private readonly (Codec Codec, int Length, uint Crc32C)[] _stored;
    private Memory<byte>? _buffer;

    private EncodedBatch(ArraySegment<ChunkOrigin> chunks, int[] offsets, Memory<byte> buffer)
    {
        _chunks = chunks;
        _offsets = offsets;
        _buffer = buffer;
        _stored = new (Codec, int, uint)[chunks.Count];
    }

    public int Count => _chunks.Count;

    public (ChunkOrigin Origin, Codec Codec, ReadOnlyMemory<byte> Stored, uint Crc32C) this[int index] =>
        (_chunks[index], _stored[index].Codec, Buffer.Slice(_offsets[index], _stored[index].Length), _stored[index].Crc32C);

    private Memory<byte> Buffer => _buffer ?? throw new ObjectDisposedException(nameof(EncodedBatch));

    /// <summary>
    /// Reads all of <paramref name="chunks"/> batch after batch (see <see cref="ReadAsync"/>), the
    /// next one read and encoded while the caller packs the one it holds. A batch is valid until the
    /// caller asks for the next one; its buffer then goes back to the pool.
    /// </summary>
    public static async IAsyncEnumerable<EncodedBatch> ReadAllAsync(
        ArraySegment<ChunkOrigin> chunks, bool rehashAll, Compression compression, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var runs = Runs.Bounded(chunks, c => c.Length, MaxBytes).GetEnumerator();
        Task<EncodedBatch>? next = runs.MoveNext() ? ReadAsync(chunks[runs.Current], rehashAll, compression, cancellationToken) : null;
        try
        {
            while (next is not null)
            {
                var reading = next;
                next = null;
                using var batch = await reading.ConfigureAwait(false);
                next = runs.MoveNext() ? ReadAsync(chunks[runs.Current], rehashAll, compression, cancellationToken) : null;
                yield return batch;
            }
        }
        finally
        {
            if (next is not null)
            {
                // The caller stopped early (it failed or was cancelled): let the read ahead finish so
                // its buffer goes back to the pool.
                try
                {
                    (await next.ConfigureAwait(false)).Dispose();
                }
                catch (Exception)
                {
                    // What the caller hit is the failure that counts.
                }
            }
        }
    }

    /// <summary>
    /// Reads the chunks of one batch (<see cref="MaxBytes"/> at most), each run of adjacent
    /// chunks of a file in one read, then checks and encodes the chunks on all cores. A chunk is
    /// re-hashed when <paramref name="rehashAll"/> or its file's stat is unknown; otherwise the file is
    /// proved unchanged by its stat after the read, as restic and borg do. The server re-hashes every
    /// chunk either way, so no check here can let a wrong chunk in.
    /// The batch is read on a pool thread with blocking reads: .NET has no asynchronous file reads on
    /// Unix (an awaited read is the same blocking read, queued to another pool thread), and a batch of
    /// small files would pay that hop for each of its hundred or so files.
    /// </summary>
    private static Task<EncodedBatch> ReadAsync(ArraySegment<ChunkOrigin> taken, bool rehashAll, Compression compression, CancellationToken cancellationToken) =>
        Task.Run(() => Read(taken, rehashAll, compression, cancellationToken), cancellationToken);

    private static EncodedBatch Read(ArraySegment<ChunkOrigin> taken, bool rehashAll, Compression compression, CancellationToken cancellationToken)
    {
        int count = taken.Count;
        var offsets = new int[count];
        var batch = new EncodedBatch(taken, offsets, Pool.Rent()); // chunks are far below MaxBytes, so a batch fits
        var sources = new Dictionary<string, (ChunkSource Source, FileStat? Stat)>(StringComparer.Ordinal);
        try
        {
            for (int start = 0, at = 0; start < count;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var first = taken[start];
                int end = start + 1;
                long runLength = first.Length;
                while (end < count && taken[end].SourcePath == first.SourcePath && taken[end].Offset == first.Offset + runLength)
                {
                    runLength += taken[end++].Length;
                }

                if (first.Kept is { } kept && first.Offset + runLength <= kept.Length
                    && kept.TryCopyTo((int)first.Offset, batch.Buffer.Span.Slice(at, (int)runLength)))
                {
                    // The bytes that were hashed: no read, nor a stat to prove the file unchanged.
                    if (first.Offset + runLength == kept.Length)
                    {
                        kept.Release();
                    }
                }
                else
                {
                    if (!sources.TryGetValue(first.SourcePath, out var source))
                    {
                        source = (OpenSource(first), first.Stat);
                        sources.Add(first.SourcePath, source);
                    }

                    if (source.Source.Read(batch.Buffer.Span.Slice(at, (int)runLength), first.Offset) != runLength)
                    {
                        throw Changed(first.SourcePath);
                    }
                }

                for (; start < end; start++)
                {
                    offsets[start] = at;
                    at += taken[start].Length;
                }
            }

            foreach (var (path, (source, stat)) in sources)
            {
                if (stat is { } known && source.Stat(path) != known)
                {
                    throw Changed(path);
                }
            }

            var options = new ParallelOptions { CancellationToken = cancellationToken };
            Parallel.For(0, count, options, i => batch.Encode(i, rehash: rehashAll || taken[i].Stat is null, compression));
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
        finally
        {
            foreach (var (source, _) in sources.Values)
            {
                source.Dispose();
            }
        }
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            Pool.Return(buffer);
        }
    }

    private void Encode(int index, bool rehash, Compression compression)
    {
        var origin = _chunks[index];
        var raw = Buffer.Span.Slice(_offsets[index], origin.Length);
        if (rehash && XetHashes.ChunkHash(raw) != origin.Hash)
        {
            throw Changed(origin.SourcePath);
        }

        var (codec, length) = ChunkCodec.EncodeInPlace(raw, compression);
        _stored[index] = (codec, length, Crc32C.Compute(raw[..length])); // here, while the bytes are in this core's cache
    }

    private static ChunkSource OpenSource(ChunkOrigin origin)
    {
        try
        {
            return ChunkSource.Open(origin.SourcePath, origin.Symlink);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Changed(origin.SourcePath);
        }
    }

    private static InvalidInputException Changed(string sourcePath) => new($"'{sourcePath}' changed while being pushed; run the push again.");
}
