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
    /// Reads the chunk straight from its offset in its source (no re-chunking), proves by its hash
    /// that it is still the chunk it was, and encodes it. For a pack rebuilt in a later run.
    /// </summary>
    public static async ValueTask<EncodedChunk> ReadAsync(ChunkOrigin origin, CancellationToken cancellationToken)
    {
        using var source = ChunkSource.Open(origin.SourcePath, origin.Symlink);
        return await ReadAsync(origin, source, rehash: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the chunk from <paramref name="source"/> (its file, opened once for all its chunks in a
    /// batch) and encodes it. With <paramref name="rehash"/> the chunk is hashed again; without, the
    /// caller proves the file unchanged by its stat (<see cref="CheckUnchanged"/>) once it has read
    /// the file's chunks, as restic and borg do. The server re-hashes every chunk either way, so no
    /// check can let a wrong chunk in.
    /// </summary>
    public static async ValueTask<EncodedChunk> ReadAsync(ChunkOrigin origin, ChunkSource source, bool rehash, CancellationToken cancellationToken)
    {
        byte[] raw = ArrayPool<byte>.Shared.Rent(origin.Length);
        byte[] stored = Pool.Rent(origin.Length);
        try
        {
            int read = await source.ReadAsync(raw.AsMemory(0, origin.Length), origin.Offset, cancellationToken).ConfigureAwait(false);
            if (read != origin.Length || (rehash && XetHashes.ChunkHash(raw.AsSpan(0, origin.Length)) != origin.Hash))
            {
                throw Changed(origin.SourcePath);
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

    /// <summary>Throws unless the file still has the stat it had when it was hashed.</summary>
    public static void CheckUnchanged(string sourcePath, FileStat stat)
    {
        if (FileStat.Of(sourcePath) != stat)
        {
            throw Changed(sourcePath);
        }
    }

    private static InvalidInputException Changed(string sourcePath) => new($"'{sourcePath}' changed while being pushed; run the push again.");
}
