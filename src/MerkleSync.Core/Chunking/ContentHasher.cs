using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Chunking;

/// <summary>Chunks a stream and hashes every chunk, giving the file's Xet hash and chunk list.</summary>
public sealed class ContentHasher : IChunkSink
{
    private readonly List<ChunkRef> _chunks = [];

    private ContentHasher()
    {
    }

    public static async ValueTask<ChunkedContent> HashAsync(Stream stream, CancellationToken cancellationToken, GearChunker chunker = default)
    {
        var hasher = new ContentHasher();
        long length = await StreamChunker.ChunkAsync(stream, hasher, cancellationToken, chunker: chunker).ConfigureAwait(false);
        return hasher.Finish(length);
    }

    public static ChunkedContent Hash(ReadOnlySpan<byte> data, GearChunker chunker = default)
    {
        var hasher = new ContentHasher();
        int start = 0;
        foreach (int length in StreamChunker.ChunkLengths(data, chunker))
        {
            hasher.Add(data.Slice(start, length));
            start += length;
        }

        return hasher.Finish(data.Length);
    }

    public ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken)
    {
        Add(chunk.Span);
        return ValueTask.CompletedTask;
    }

    private void Add(ReadOnlySpan<byte> chunk) => _chunks.Add(new ChunkRef(XetHashes.ChunkHash(chunk), (ulong)chunk.Length));

    private ChunkedContent Finish(long length)
    {
        ChunkRef[] chunks = [.. _chunks];
        return new ChunkedContent(XetHashes.FileHash(chunks), length, chunks);
    }
}
