using System.Buffers;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

/// <summary>A chunk read from its source and encoded for a pack; <see cref="Stored"/> is rented from the shared pool.</summary>
internal readonly record struct EncodedChunk(ChunkOrigin Origin, Codec Codec, byte[] Stored, int StoredLength)
{
    public ReadOnlyMemory<byte> Bytes => Stored.AsMemory(0, StoredLength);

    /// <summary>
    /// Reads the chunk straight from its offset in the source (no re-chunking), checks it still
    /// hashes the same (a file edited since it was hashed stops the push), and encodes it.
    /// </summary>
    public static async ValueTask<EncodedChunk> ReadAsync(ChunkOrigin origin, CancellationToken cancellationToken)
    {
        byte[] raw = ArrayPool<byte>.Shared.Rent(origin.Length);
        byte[] stored = ArrayPool<byte>.Shared.Rent(origin.Length);
        try
        {
            using var source = ChunkSource.Open(origin.SourcePath, origin.Symlink);
            int read = await source.ReadAsync(raw.AsMemory(0, origin.Length), origin.Offset, cancellationToken).ConfigureAwait(false);
            if (read != origin.Length || XetHashes.ChunkHash(raw.AsSpan(0, origin.Length)) != origin.Hash)
            {
                throw new InvalidInputException($"'{origin.SourcePath}' changed while being pushed; run the push again.");
            }

            var (codec, length) = ChunkCodec.Encode(raw.AsSpan(0, origin.Length), stored);
            return new EncodedChunk(origin, codec, stored, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(stored);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }
}
