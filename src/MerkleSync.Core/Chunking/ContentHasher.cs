using System.Buffers;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Chunking;

/// <summary>Chunks a stream and hashes every chunk, giving the file's Xet hash and chunk list.</summary>
public static class ContentHasher
{
    /// <summary>
    /// Streams <paramref name="stream"/> through the chunker. With <paramref name="hashThreads"/> above
    /// zero, chunks are hashed on that many pool threads while the caller keeps chunking, which about
    /// doubles the speed on one large file; memory stays bounded by the batches in flight.
    /// </summary>
    public static async ValueTask<ChunkedContent> HashAsync(Stream stream, CancellationToken cancellationToken, int hashThreads = 0, GearChunker chunker = default)
    {
        if (hashThreads <= 0)
        {
            var sink = new InlineSink();
            long length = await StreamChunker.ChunkAsync(stream, sink, cancellationToken, chunker: chunker).ConfigureAwait(false);
            return Finish(sink.Chunks, length);
        }

        var batches = new BatchingSink(hashThreads);
        try
        {
            long length = await StreamChunker.ChunkAsync(stream, batches, cancellationToken, chunker: chunker).ConfigureAwait(false);
            return Finish(await batches.CompleteAsync().ConfigureAwait(false), length);
        }
        finally
        {
            await batches.DisposeAsync().ConfigureAwait(false);
        }
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

    private static ChunkRef HashChunk(ReadOnlySpan<byte> chunk) =>
        new(chunk.Length == ChunkingParameters.MaximumChunkSize && !chunk.ContainsAnyExcept((byte)0) ? ZeroChunkHash : XetHashes.ChunkHash(chunk), (ulong)chunk.Length);

    /// <summary>
    /// The hash of a maximum-size chunk of zeros, what a run of zeros (a sparse file's hole,
    /// preallocated space) is cut into: such chunks are hashed once, not once each.
    /// </summary>
    private static readonly Hash ZeroChunkHash = XetHashes.ChunkHash(new byte[ChunkingParameters.MaximumChunkSize]);

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

    /// <summary>Copies chunks into pooled batches and hashes each batch on the thread pool, results in order.</summary>
    private sealed class BatchingSink(int maxInFlight) : IChunkSink, IAsyncDisposable
    {
        private const int BatchBytes = 4 << 20;

        // Batches are rented by the chunking thread and returned by a hashing one, which the shared
        // pool kept only partly (about 8 MB of new 4 MiB arrays per GiB hashed).
        private static readonly ArrayPool<byte> BatchPool = ArrayPool<byte>.Create(BatchBytes, 32);

        private readonly Queue<Task<ChunkRef[]>> _inFlight = new();
        private readonly List<ChunkRef> _results = [];
        private readonly List<int> _lengths = [];
        private byte[]? _batch;
        private int _used;

        public async ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken)
        {
            if (_batch is not null && _used + chunk.Length > BatchBytes)
            {
                await DispatchAsync().ConfigureAwait(false);
            }

            _batch ??= BatchPool.Rent(BatchBytes);
            chunk.Span.CopyTo(_batch.AsSpan(_used));
            _used += chunk.Length;
            _lengths.Add(chunk.Length);
        }

        public async ValueTask<List<ChunkRef>> CompleteAsync()
        {
            await DispatchAsync().ConfigureAwait(false);
            while (_inFlight.Count > 0)
            {
                _results.AddRange(await _inFlight.Dequeue().ConfigureAwait(false));
            }

            return _results;
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

            if (_batch is not null)
            {
                BatchPool.Return(_batch);
                _batch = null;
            }
        }

        private async ValueTask DispatchAsync()
        {
            if (_batch is null)
            {
                return;
            }

            byte[] batch = _batch;
            int[] lengths = [.. _lengths];
            _batch = null;
            _used = 0;
            _lengths.Clear();
            _inFlight.Enqueue(Task.Run(() => HashBatch(batch, lengths)));
            if (_inFlight.Count >= maxInFlight)
            {
                _results.AddRange(await _inFlight.Dequeue().ConfigureAwait(false));
            }
        }

        private static ChunkRef[] HashBatch(byte[] batch, int[] lengths)
        {
            try
            {
                var refs = new ChunkRef[lengths.Length];
                int start = 0;
                for (int i = 0; i < lengths.Length; i++)
                {
                    refs[i] = HashChunk(batch.AsSpan(start, lengths[i]));
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
