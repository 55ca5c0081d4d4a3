using MerkleSync.Core.Buffers;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Chunking;

/// <summary>Chunks a stream and hashes every chunk, giving the file's Xet hash and chunk list.</summary>
public static class ContentHasher
{
    /// <summary>
    /// Streams <paramref name="stream"/> through the chunker. With <paramref name="hashThreads"/> above
    /// zero, chunks are hashed on that many pool threads while the caller keeps chunking, which about
    /// doubles the speed on one large file; memory stays bounded by the batches in flight. Then
    /// <paramref name="onHashed"/>, if given, hears of the chunks as they are hashed: each run once,
    /// in order, on the chunking thread, before the file's hash is known.
    /// </summary>
    public static async ValueTask<ChunkedContent> HashAsync(
        Stream stream, CancellationToken cancellationToken, int hashThreads = 0, GearChunker chunker = default, Action<ChunkRef[]>? onHashed = null)
    {
        if (hashThreads <= 0)
        {
            var sink = new InlineSink();
            long length = await StreamChunker.ChunkAsync(stream, sink, cancellationToken, chunker: chunker).ConfigureAwait(false);
            return Finish(sink.Chunks, length);
        }

        await using var batches = new BatchedHashing(hashThreads, onHashed);
        var (chunks, total) = await batches.RunAsync(stream, chunker, cancellationToken).ConfigureAwait(false);
        return Finish(chunks, total);
    }

    public static ChunkedContent Hash(ReadOnlySpan<byte> data, GearChunker chunker = default)
    {
        var chunks = new List<ChunkRef>();
        int start = 0;
        foreach (int length in StreamChunker.ChunkLengths(data, chunker))
        {
            chunks.Add(HashChunk(data.Slice(start, length)));
            start += length;
        }

        return Finish(chunks, data.Length);
    }

    private static ChunkRef HashChunk(ReadOnlySpan<byte> chunk) => new(XetHashes.ChunkHash(chunk), (ulong)chunk.Length);

    private static ChunkedContent Finish(List<ChunkRef> chunks, long length)
    {
        ChunkRef[] array = [.. chunks];
        return new ChunkedContent(XetHashes.FileHash(array), length, array);
    }

    private sealed class InlineSink : IChunkSink
    {
        public List<ChunkRef> Chunks { get; } = [];

        public ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken)
        {
            Chunks.Add(HashChunk(chunk.Span));
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Reads a stream straight into pooled batches and hashes each full batch's chunks on the thread
    /// pool while the next one is read and chunked, results in order. Chunk bytes are not copied
    /// (a sink that copied each chunk into a batch cost the chunking thread, the slower of the two,
    /// a memmove of everything hashed); only the unfinished chunk at a batch's end moves to the next.
    /// </summary>
    private sealed class BatchedHashing(int maxInFlight, Action<ChunkRef[]>? onHashed) : IAsyncDisposable
    {
        private const int BatchBytes = 4 << 20, ReadBytes = StreamChunker.DefaultBufferSize;

        // Batches are rented by the chunking thread and returned by a hashing one, which the shared
        // pool kept only partly (about 8 MB of new 4 MiB arrays per GiB hashed).
        private static readonly LargeBufferPool BatchPool = new(BatchBytes, maxKept: 32);

        private readonly Queue<Task<ChunkRef[]>> _inFlight = new();
        private Memory<byte> _batch; // the batch being filled (empty when none), returned on dispose after a failure

        public async ValueTask<(List<ChunkRef> Chunks, long Length)> RunAsync(Stream stream, GearChunker chunker, CancellationToken cancellationToken)
        {
            var results = new List<ChunkRef>();
            var lengths = new List<int>();
            long total = 0;
            int chunkStart = 0; // first byte of the unfinished chunk in the batch
            int scanned = 0;    // bytes before this were already fed to the chunker
            int filled = 0;
            _batch = BatchPool.Rent();
            while (true)
            {
                if (scanned == filled)
                {
                    if (filled == BatchBytes)
                    {
                        // Full: hash its finished chunks; the unfinished one (under the maximum chunk size) starts the next batch.
                        var next = BatchPool.Rent();
                        _batch.Span[chunkStart..filled].CopyTo(next.Span);
                        await DispatchAsync(next).ConfigureAwait(false);
                        (filled, scanned, chunkStart) = (filled - chunkStart, filled - chunkStart, 0);
                    }

                    // Reads of at most ReadBytes: the chunker scans each while it is still in the core's cache.
                    int read = await stream.ReadAsync(_batch.Slice(filled, Math.Min(ReadBytes, BatchBytes - filled)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        if (filled > chunkStart)
                        {
                            lengths.Add(filled - chunkStart);
                        }

                        await DispatchAsync(Memory<byte>.Empty).ConfigureAwait(false);
                        while (_inFlight.Count > 0)
                        {
                            Collect(await _inFlight.Dequeue().ConfigureAwait(false));
                        }

                        return (results, total);
                    }

                    filled += read;
                    total += read;
                }

                int boundary = chunker.NextBoundary(_batch.Span[scanned..filled]);
                if (boundary < 0)
                {
                    scanned = filled;
                    continue;
                }

                scanned += boundary;
                lengths.Add(scanned - chunkStart);
                chunkStart = scanned;
            }

            // Hands the current batch (its chunks' lengths in lengths) to a hashing thread and makes next current.
            async ValueTask DispatchAsync(Memory<byte> next)
            {
                var batch = _batch;
                int[] batchLengths = [.. lengths];
                lengths.Clear();
                _batch = next;
                _inFlight.Enqueue(Task.Run(() => HashBatch(batch, batchLengths)));
                if (_inFlight.Count >= maxInFlight)
                {
                    Collect(await _inFlight.Dequeue().ConfigureAwait(false));
                }
            }

            void Collect(ChunkRef[] hashed)
            {
                results.AddRange(hashed);
                onHashed?.Invoke(hashed);
            }
        }

        public async ValueTask DisposeAsync()
        {
            // After a failure, let running batches finish so their buffers go back to the pool.
            while (_inFlight.Count > 0)
            {
                try
                {
                    await _inFlight.Dequeue().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The first failure was already reported to the caller.
                }
            }

            if (!_batch.IsEmpty)
            {
                BatchPool.Return(_batch);
                _batch = Memory<byte>.Empty;
            }
        }

        private static ChunkRef[] HashBatch(Memory<byte> batch, int[] lengths)
        {
            try
            {
                var refs = new ChunkRef[lengths.Length];
                var bytes = batch.Span;
                int start = 0;
                for (int i = 0; i < lengths.Length; i++)
                {
                    refs[i] = HashChunk(bytes.Slice(start, lengths[i]));
                    start += lengths[i];
                }

                return refs;
            }
            finally
            {
                BatchPool.Return(batch);
            }
        }
    }
}
