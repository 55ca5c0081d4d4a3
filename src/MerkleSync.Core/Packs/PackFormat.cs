using System.Buffers.Binary;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Packs;

/// <summary>One chunk's place in a pack.</summary>
public readonly record struct PackEntry(Hash ChunkHash, long Offset, int StoredLength, int RawLength, Codec Codec, uint Crc32C);

/// <summary>
/// The pack file layout (docs/format.md, "Pack files"):
/// <c>header | (frame header, stored chunk) × n | end frame | index | trailer</c>, the index listing
/// each chunk's hash, offset, lengths, codec and CRC-32C, the trailer giving the index length and
/// its CRC. A pack's id is keyed BLAKE3 of its index, which names every chunk by hash: hashing the
/// index, not all the bytes, keeps the id content-derived at a thousandth of the cost (each chunk is
/// proven by its own hash). The frame headers (Xet's xorb chunk-header layout) make the data
/// self-delimiting, so a server verifies a pack while it arrives instead of reading it back.
/// </summary>
public static class PackFormat
{
    public static ReadOnlySpan<byte> HeaderMagic => "MSYNCPK2"u8;

    public static ReadOnlySpan<byte> TrailerMagic => "MSYNCPKE"u8;

    public const int HeaderLength = 8;

    /// <summary>Before each stored chunk: <c>version:u8 (0) | stored_len:u24 | codec:u8 | raw_len:u24</c>; all zero after the last.</summary>
    public const int FrameHeaderLength = 8;

    /// <summary>The shortest pack: no chunks, just the end frame, an empty index and the trailer.</summary>
    public const int MinimumLength = HeaderLength + FrameHeaderLength + 4 + TrailerLength;

    /// <summary>Where the first chunk's stored bytes start.</summary>
    public const long FirstChunkOffset = HeaderLength + FrameHeaderLength;

    public const int EntryLength = Hash.Size + 8 + 4 + 4 + 1 + 4;
    public const int TrailerLength = 4 + 4 + 8;

    /// <summary>Packs are closed once they pass this size.</summary>
    public const long TargetPackSize = 64L << 20;

    /// <summary>No valid pack has more chunks than fit this size at the minimum; bounds index reads.</summary>
    public const int MaxEntries = (int)(4 * TargetPackSize / 64);

    /// <summary>Key of the pack-id hash: BLAKE3 of the ASCII text "MerkleSync pack v1".</summary>
    public static readonly byte[] PackKey = Blake3OneChunk.Hash("MerkleSync pack v1"u8);

    /// <summary>The pack id: keyed BLAKE3 of the encoded index.</summary>
    public static Hash PackId(ReadOnlySpan<byte> encodedIndex) => XetHashes.KeyedHash(PackKey, encodedIndex);

    /// <summary>The blob-store key of a pack.</summary>
    public static string BlobKey(Hash packId)
    {
        string hex = packId.ToString();
        return $"packs/{hex[..2]}/{hex}.pack";
    }

    /// <summary>Parses a pack blob key back to the id, or null if it is not one.</summary>
    public static Hash? ParseBlobKey(string key)
    {
        const string Prefix = "packs/";
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || !key.EndsWith(".pack", StringComparison.Ordinal))
        {
            return null;
        }

        string name = key[(key.LastIndexOf('/') + 1)..^5];
        return Hash.TryParse(name, out var id) && BlobKey(id) == key ? id : null;
    }

    public static void WriteFrameHeader(Span<byte> destination, Codec codec, int storedLength, int rawLength)
    {
        destination[0] = 0;
        WriteUInt24(destination[1..], storedLength);
        destination[4] = (byte)codec;
        WriteUInt24(destination[5..], rawLength);
    }

    /// <summary>A frame header's codec and lengths; a stored length of 0 is the end frame.</summary>
    public static (Codec Codec, int StoredLength, int RawLength) ReadFrameHeader(ReadOnlySpan<byte> header)
    {
        int stored = header[1] | (header[2] << 8) | (header[3] << 16);
        int raw = header[5] | (header[6] << 8) | (header[7] << 16);
        if (header[0] != 0 || (stored == 0 && (header[4] != 0 || raw != 0)))
        {
            throw new CorruptDataException("A pack frame header is malformed.");
        }

        return ((Codec)header[4], stored, raw);
    }

    /// <summary>Whether an entry's codec and lengths are possible (not that its bytes are right).</summary>
    public static bool IsPlausible(Codec codec, int storedLength, int rawLength) =>
        rawLength is > 0 and <= ChunkingParameters.MaximumChunkSize
        && storedLength > 0
        && (codec == Codec.None ? storedLength == rawLength : codec is Codec.Zstd or Codec.Lz4 && storedLength < rawLength);

    private static void WriteUInt24(Span<byte> destination, int value)
    {
        destination[0] = (byte)value;
        destination[1] = (byte)(value >> 8);
        destination[2] = (byte)(value >> 16);
    }

    public static void WriteEntry(Span<byte> destination, in PackEntry entry)
    {
        entry.ChunkHash.WriteTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], entry.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(destination[40..], entry.StoredLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[44..], entry.RawLength);
        destination[48] = (byte)entry.Codec;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[49..], entry.Crc32C);
    }

    public static PackEntry ReadEntry(ReadOnlySpan<byte> e) => new(
        Hash.FromBytes(e[..32]),
        BinaryPrimitives.ReadInt64LittleEndian(e[32..]),
        BinaryPrimitives.ReadInt32LittleEndian(e[40..]),
        BinaryPrimitives.ReadInt32LittleEndian(e[44..]),
        (Codec)e[48],
        BinaryPrimitives.ReadUInt32LittleEndian(e[49..]));

    public static byte[] EncodeIndex(IReadOnlyList<PackEntry> entries)
    {
        byte[] index = new byte[4 + (entries.Count * EntryLength)];
        BinaryPrimitives.WriteInt32LittleEndian(index, entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            WriteEntry(index.AsSpan(4 + (i * EntryLength)), entries[i]);
        }

        return index;
    }

    /// <summary>
    /// Decodes and validates an index from untrusted bytes: entries and their frame headers must
    /// tile the data region [header, <paramref name="dataEnd"/>) in order, the end frame last, with
    /// sane lengths and known codecs.
    /// </summary>
    public static PackEntry[] DecodeIndex(ReadOnlySpan<byte> index, long dataEnd)
    {
        if (index.Length < 4)
        {
            throw new CorruptDataException("Pack index is truncated.");
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(index);
        if (count < 0 || count > MaxEntries || index.Length != 4 + ((long)count * EntryLength))
        {
            throw new CorruptDataException($"Pack index claims {count} entries in {index.Length} bytes.");
        }

        var entries = new PackEntry[count];
        long end = HeaderLength; // of the previous frame
        for (int i = 0; i < count; i++)
        {
            var entry = ReadEntry(index.Slice(4 + (i * EntryLength), EntryLength));
            if (entry.Offset != end + FrameHeaderLength || !IsPlausible(entry.Codec, entry.StoredLength, entry.RawLength))
            {
                throw new CorruptDataException($"Pack index entry {i} ({entry.ChunkHash}) is inconsistent.");
            }

            entries[i] = entry;
            end = entry.Offset + entry.StoredLength;
        }

        if (end + FrameHeaderLength != dataEnd)
        {
            throw new CorruptDataException($"Pack index covers {end + FrameHeaderLength} bytes of data but the data ends at {dataEnd}.");
        }

        return entries;
    }
}
