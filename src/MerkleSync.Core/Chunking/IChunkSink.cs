namespace MerkleSync.Core.Chunking;

/// <summary>Receives the chunks of a stream in order.</summary>
public interface IChunkSink
{
    /// <summary>
    /// Called once per chunk. <paramref name="chunk"/> is only valid until the returned task
    /// completes: the buffer behind it is reused.
    /// </summary>
    ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken);
}
