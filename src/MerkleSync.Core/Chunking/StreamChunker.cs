using System.Buffers;

namespace MerkleSync.Core.Chunking;

/// <summary>
/// Cuts a stream into content-defined chunks with one pooled buffer: memory stays at
/// <see cref="DefaultBufferSize"/> whatever the stream's length.
/// </summary>
public static class StreamChunker
{
    /// <summary>Eight maximum-size chunks: large reads, bounded memory.</summary>
    public const int DefaultBufferSize = 8 * ChunkingParameters.MaximumChunkSize;

    /// <summary>Reads <paramref name="stream"/> to its end, handing each chunk to <paramref name="sink"/>; returns the byte count.</summary>
    public static async ValueTask<long> ChunkAsync(
        Stream stream,
        IChunkSink sink,
        CancellationToken cancellationToken,
        int bufferSize = DefaultBufferSize,
        GearChunker chunker = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sink);

        // A chunk must always fit, with room to read more behind the unfinished one.
        bufferSize = Math.Max(bufferSize, 2 * ChunkingParameters.MaximumChunkSize);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            long chunkOffset = 0; // stream offset of buffer[chunkStart]
            int chunkStart = 0;   // first byte of the unfinished chunk
            int scanned = 0;      // bytes before this were already fed to the chunker
            int filled = 0;
            while (true)
            {
                if (scanned == filled)
                {
                    if (chunkStart > 0)
                    {
                        // Keep the unfinished chunk and make room behind it.
                        Buffer.BlockCopy(buffer, chunkStart, buffer, 0, filled - chunkStart);
                        filled -= chunkStart;
                        scanned -= chunkStart;
                        chunkStart = 0;
                    }

                    int read = await stream.ReadAsync(buffer.AsMemory(filled, bufferSize - filled), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        if (filled > 0)
                        {
                            await sink.OnChunkAsync(buffer.AsMemory(0, filled), chunkOffset, cancellationToken).ConfigureAwait(false);
                            chunkOffset += filled;
                        }

                        return chunkOffset;
                    }

                    filled += read;
                }

                int boundary = chunker.NextBoundary(buffer.AsSpan(scanned, filled - scanned));
                if (boundary < 0)
                {
                    scanned = filled;
                    continue;
                }

                scanned += boundary;
                int length = scanned - chunkStart;
                await sink.OnChunkAsync(buffer.AsMemory(chunkStart, length), chunkOffset, cancellationToken).ConfigureAwait(false);
                chunkOffset += length;
                chunkStart = scanned;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The chunk lengths of an in-memory buffer (for tests, small inputs and tools).</summary>
    public static List<int> ChunkLengths(ReadOnlySpan<byte> data, GearChunker chunker = default)
    {
        var lengths = new List<int>();
        int start = 0;
        while (start < data.Length)
        {
            int boundary = chunker.NextBoundary(data[start..]);
            int length = boundary < 0 ? data.Length - start : boundary;
            lengths.Add(length);
            start += length;
        }

        return lengths;
    }
}
