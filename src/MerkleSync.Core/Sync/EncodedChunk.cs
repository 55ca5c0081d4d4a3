using System.Buffers;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

/// <summary>A chunk read from its source and encoded for a pack; <see cref="Release"/> it once packed.</summary>
internal readonly record struct EncodedChunk(ChunkOrigin Origin, Codec Codec, byte[] Stored, int StoredLength)
{
    // Hundreds of encoded chunks wait in a push's batches at once, more than the shared pool keeps
    // per size; its misses were fresh large-object arrays, about 2 GB of garbage per GiB pushed.
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(ChunkingParameters.MaximumChunkSize, 512);

    public ReadOnlyMemory<byte> Bytes => Stored.AsMemory(0, StoredLength);

    public void Release() => Pool.Return(Stored);

    /// <summary>
    /// Reads the chunk straight from its offset in the source (no re-chunking), checks the source is
    /// unchanged since it was hashed (a file edited meanwhile stops the push), and encodes it. The
    /// check compares the file's stat with the one taken when it was hashed, as restic and borg do;
    /// without one (or with <paramref name="rehash"/>, for a pack rebuilt in a later run) the chunk is
    /// hashed again. The server re-hashes every chunk either way, so no check can let a wrong chunk in.
    /// </summary>
    public static async ValueTask<EncodedChunk> ReadAsync(ChunkOrigin origin, CancellationToken cancellationToken, bool rehash = false)
    {
        byte[] raw = ArrayPool<byte>.Shared.Rent(origin.Length);
        byte[] stored = Pool.Rent(origin.Length);
        try
        {
            using var source = ChunkSource.Open(origin.SourcePath, origin.Symlink);
            int read = await source.ReadAsync(raw.AsMemory(0, origin.Length), origin.Offset, cancellationToken).ConfigureAwait(false);
            bool unchanged = read == origin.Length && (origin.Stat is { } stat && !rehash
                ? FileStat.Of(origin.SourcePath) == stat
                : XetHashes.ChunkHash(raw.AsSpan(0, origin.Length)) == origin.Hash);
            if (!unchanged)
            {
                throw new InvalidInputException($"'{origin.SourcePath}' changed while being pushed; run the push again.");
            }

            var (codec, length) = ChunkCodec.Encode(raw.AsSpan(0, origin.Length), stored);
            return new EncodedChunk(origin, codec, stored, length);
        }
        catch
        {
            Pool.Return(stored);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }
}
