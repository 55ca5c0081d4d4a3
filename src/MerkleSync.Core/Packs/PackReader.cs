using System.Buffers;
using System.Buffers.Binary;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Packs;

/// <summary>The outcome of reading a whole pack back: its entries and anything that failed.</summary>
public sealed record PackCheck(Hash PackId, PackEntry[] Entries, IReadOnlyList<(PackEntry Entry, string Problem)> CorruptChunks, string? PackProblem)
{
    public bool IsIntact => PackProblem is null && CorruptChunks.Count == 0;
}

/// <summary>Reads packs from a blob store, trusting nothing it reads.</summary>
public static class PackReader
{
    /// <summary>Reads and validates a pack's index from its tail (two small ranged reads).</summary>
    public static async ValueTask<PackEntry[]> ReadIndexAsync(IBlobStore store, Hash packId, CancellationToken cancellationToken)
    {
        string key = PackFormat.BlobKey(packId);
        long length = await store.GetLengthAsync(key, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"Pack {packId} is missing from the store.");
        return await ReadIndexAsync(store, key, packId, length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads a whole pack: checks its structure, that its index hashes to <paramref name="packId"/>,
    /// and every chunk (CRC, codec, hash). Reports per chunk rather than stopping at the first problem.
    /// </summary>
    public static async ValueTask<PackCheck> CheckAsync(IBlobStore store, Hash packId, CancellationToken cancellationToken)
    {
        PackEntry[] entries;
        try
        {
            entries = await ReadIndexAsync(store, packId, cancellationToken).ConfigureAwait(false);
        }
        catch (CorruptDataException e)
        {
            return new PackCheck(packId, [], [], e.Message);
        }

        var corrupt = new List<(PackEntry, string)>();
        byte[] stored = ArrayPool<byte>.Shared.Rent(ChunkingParameters.MaximumChunkSize);
        byte[] raw = ArrayPool<byte>.Shared.Rent(ChunkingParameters.MaximumChunkSize);
        try
        {
            await using var stream = await store.OpenReadAsync(PackFormat.BlobKey(packId), cancellationToken).ConfigureAwait(false);
            byte[] header = new byte[PackFormat.HeaderLength];
            await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
            string? problem = header.AsSpan().SequenceEqual(PackFormat.HeaderMagic) ? null : $"pack header is not {System.Text.Encoding.ASCII.GetString(PackFormat.HeaderMagic)}";
            byte[] frame = new byte[PackFormat.FrameHeaderLength];
            foreach (var entry in entries)
            {
                await stream.ReadExactlyAsync(frame, cancellationToken).ConfigureAwait(false);
                var span = stored.AsMemory(0, entry.StoredLength);
                await stream.ReadExactlyAsync(span, cancellationToken).ConfigureAwait(false);
                try
                {
                    if (PackFormat.ReadFrameHeader(frame) != (entry.Codec, entry.StoredLength, entry.RawLength))
                    {
                        throw new CorruptDataException($"Chunk {entry.ChunkHash}: its frame header disagrees with the index.");
                    }

                    if (Crc32C.Compute(span.Span) != entry.Crc32C)
                    {
                        throw new CorruptDataException($"Chunk {entry.ChunkHash}: stored bytes fail their CRC-32C check.");
                    }

                    ChunkCodec.DecodeVerified(entry.Codec, span, entry.ChunkHash, entry.RawLength, raw);
                }
                catch (CorruptDataException e)
                {
                    corrupt.Add((entry, e.Message));
                }
            }

            await stream.ReadExactlyAsync(frame, cancellationToken).ConfigureAwait(false);
            if (frame.AsSpan().ContainsAnyExcept((byte)0))
            {
                problem ??= "the chunks do not end with an end frame";
            }

            return new PackCheck(packId, entries, corrupt, problem);
        }
        catch (EndOfStreamException)
        {
            return new PackCheck(packId, entries, corrupt, "pack is shorter than its index says");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>
    /// Reads the consecutive entries <paramref name="run"/> with one ranged read, verifies each chunk
    /// and hands its raw bytes to <paramref name="onChunk"/> (valid only during the call).
    /// </summary>
    public static async ValueTask ReadChunksAsync(
        IBlobStore store, Hash packId, ReadOnlyMemory<PackEntry> run, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken)
    {
        if (run.IsEmpty)
        {
            return;
        }

        var first = run.Span[0];
        var last = run.Span[^1];
        long length = last.Offset + last.StoredLength - first.Offset;
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)length);
        byte[] raw = ArrayPool<byte>.Shared.Rent(ChunkingParameters.MaximumChunkSize);
        try
        {
            int read = await store.ReadAsync(PackFormat.BlobKey(packId), first.Offset, buffer.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
            if (read != length)
            {
                throw new CorruptDataException($"Pack {packId} is truncated: read {read} of {length} bytes at offset {first.Offset}.");
            }

            for (int i = 0; i < run.Length; i++)
            {
                var entry = run.Span[i];
                var stored = buffer.AsMemory((int)(entry.Offset - first.Offset), entry.StoredLength);
                await onChunk(entry, DecodeFromPack(packId, entry, stored, raw)).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>
    /// <see cref="ChunkCodec.DecodeVerified"/> for a chunk read to be used (pull, cat): a chunk that
    /// fails says which pack it came from and what finds and salvages such damage.
    /// </summary>
    public static ReadOnlyMemory<byte> DecodeFromPack(Hash packId, PackEntry entry, ReadOnlyMemory<byte> stored, Memory<byte> scratch)
    {
        try
        {
            return ChunkCodec.DecodeVerified(entry.Codec, stored, entry.ChunkHash, entry.RawLength, scratch);
        }
        catch (CorruptDataException e)
        {
            throw new CorruptDataException($"{e.Message} It was read from pack {packId}: 'merklesync verify REMOTE --read-data' finds all such damage, and 'merklesync repair' salvages a damaged pack.", e);
        }
    }

    private static async ValueTask<PackEntry[]> ReadIndexAsync(IBlobStore store, string key, Hash packId, long length, CancellationToken cancellationToken)
    {
        var (index, indexStart) = await ReadTailAsync(
            async (offset, buffer, ct) => { await ReadExactlyAsync(store, key, offset, buffer, ct).ConfigureAwait(false); }, length, $"Pack {packId}", cancellationToken).ConfigureAwait(false);
        if (PackFormat.PackId(index) != packId)
        {
            throw new CorruptDataException($"Pack {packId} has an index that hashes to {PackFormat.PackId(index)}, not to its id.");
        }

        return PackFormat.DecodeIndex(index, indexStart);
    }

    /// <summary>
    /// Reads and checks a pack's trailer and index bytes (length, magic, bounds, CRC) through
    /// <paramref name="readExactly"/>, from wherever the pack is. <paramref name="name"/> starts error messages.
    /// </summary>
    internal static async ValueTask<(byte[] Index, long IndexStart)> ReadTailAsync(
        Func<long, byte[], CancellationToken, ValueTask> readExactly, long length, string name, CancellationToken cancellationToken)
    {
        if (length < PackFormat.MinimumLength)
        {
            throw new CorruptDataException($"{name} is {length} bytes, too short to be a pack.");
        }

        byte[] trailer = new byte[PackFormat.TrailerLength];
        await readExactly(length - trailer.Length, trailer, cancellationToken).ConfigureAwait(false);
        if (!trailer.AsSpan(8).SequenceEqual(PackFormat.TrailerMagic))
        {
            throw new CorruptDataException($"{name} has no valid trailer.");
        }

        int indexLength = BinaryPrimitives.ReadInt32LittleEndian(trailer);
        long maxIndex = 4 + ((long)PackFormat.MaxEntries * PackFormat.EntryLength);
        if (indexLength < 4 || indexLength > maxIndex || indexLength > length - PackFormat.MinimumLength + 4)
        {
            throw new CorruptDataException($"{name} claims an index of {indexLength} bytes.");
        }

        byte[] index = new byte[indexLength];
        long indexStart = length - PackFormat.TrailerLength - indexLength;
        await readExactly(indexStart, index, cancellationToken).ConfigureAwait(false);
        if (Crc32C.Compute(index) != BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4)))
        {
            throw new CorruptDataException($"{name}'s index fails its CRC-32C check.");
        }

        return (index, indexStart);
    }

    private static async ValueTask ReadExactlyAsync(IBlobStore store, string key, long offset, byte[] buffer, CancellationToken cancellationToken)
    {
        int read = await store.ReadAsync(key, offset, buffer, cancellationToken).ConfigureAwait(false);
        if (read != buffer.Length)
        {
            throw new CorruptDataException($"Blob '{key}' is truncated at offset {offset + read}.");
        }
    }
}
