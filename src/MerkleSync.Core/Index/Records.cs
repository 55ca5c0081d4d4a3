using System.Buffers;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.Index;

/// <summary>
/// Where a chunk lives: its pack and its position in that pack's index; <see cref="Referenced"/> once
/// a stored file record uses it (so "new bytes" count each chunk once).
/// </summary>
public readonly record struct ChunkLocation(Hash PackId, int Index, bool Referenced)
{
    // Sized for the longest varint a writer asks room for: a smaller buffer grew once per chunk
    // (a pack indexes and a publish writes one location per chunk).
    private const int MaxEncodedLength = Hash.Size + Varint.MaxLength + 1;

    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(MaxEncodedLength);
        WriteTo(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Appends the encoding to <paramref name="writer"/>: a batch of many locations reuses one buffer.</summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        Varint.WriteHash(writer, PackId);
        Varint.Write(writer, (ulong)Index);
        writer.Write([Referenced ? (byte)1 : (byte)0]);
    }

    public static ChunkLocation Decode(ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        return new ChunkLocation(reader.ReadHash(), reader.ReadInt32Varint(), reader.ReadByte() != 0);
    }
}

/// <summary>A pack known to the repository: blob length, when it was indexed, and its index.</summary>
public sealed record PackRecord(Hash PackId, long BlobLength, long IndexedAtUnixMs, PackEntry[] Entries)
{
    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(64 + (Entries.Length * PackFormat.EntryLength));
        Varint.Write(writer, (ulong)BlobLength);
        Varint.Write(writer, (ulong)IndexedAtUnixMs);
        writer.Write(PackFormat.EncodeIndex(Entries));
        return writer.WrittenSpan.ToArray();
    }

    public static PackRecord Decode(Hash packId, ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        long blobLength = reader.ReadInt64Varint();
        long indexedAt = reader.ReadInt64Varint();
        int consumed = data.Length - reader.Remaining;
        long dataEnd = blobLength - PackFormat.TrailerLength - (data.Length - consumed);
        return new PackRecord(packId, blobLength, indexedAt, PackFormat.DecodeIndex(data[consumed..], dataEnd));
    }
}

/// <summary>A run of consecutive chunks of one pack, in file order: Xet's reconstruction terms.</summary>
public readonly record struct FileSegment(Hash PackId, int FirstIndex, int Count);

/// <summary>A file's content as segments of packs.</summary>
public sealed record FileRecord(long Length, FileSegment[] Segments)
{
    public int ChunkCount => Segments.Sum(s => s.Count);

    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(16 + (Segments.Length * 40));
        Varint.Write(writer, (ulong)Length);
        Varint.Write(writer, (ulong)Segments.Length);
        foreach (var segment in Segments)
        {
            Varint.WriteHash(writer, segment.PackId);
            Varint.Write(writer, (ulong)segment.FirstIndex);
            Varint.Write(writer, (ulong)segment.Count);
        }

        return writer.WrittenSpan.ToArray();
    }

    public static FileRecord Decode(ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        long length = reader.ReadInt64Varint();
        int count = reader.ReadLength(data.Length / 34);
        var segments = new FileSegment[count];
        for (int i = 0; i < count; i++)
        {
            segments[i] = new FileSegment(reader.ReadHash(), reader.ReadInt32Varint(), reader.ReadInt32Varint());
        }

        return new FileRecord(length, segments);
    }

    /// <summary>Groups chunk locations into segments of consecutive entries of the same pack.</summary>
    public static FileSegment[] ToSegments(IEnumerable<ChunkLocation> locations)
    {
        var segments = new List<FileSegment>();
        foreach (var location in locations)
        {
            if (segments.Count > 0 && segments[^1] is var last && last.PackId == location.PackId && last.FirstIndex + last.Count == location.Index)
            {
                segments[^1] = last with { Count = last.Count + 1 };
            }
            else
            {
                segments.Add(new FileSegment(location.PackId, location.Index, 1));
            }
        }

        return [.. segments];
    }
}

/// <summary>
/// One published version: the snapshot root it names, the version it was published on top of,
/// when, by whom, why, and its size. Its id is the hash of this record, so publishing the same
/// root twice (a revert) still makes a distinct entry in the history.
/// </summary>
public sealed record VersionRecord(Hash Root, Hash Parent, long TimeUnixMs, string Author, string Message, long Files, long Bytes, long NewBytes)
{
    public const byte FormatVersion = 1;
    public const int MaxTextBytes = 64 * 1024;

    /// <summary>The longest message a version takes, in UTF-16 characters (up to 4 UTF-8 bytes each, so it always encodes within <see cref="MaxTextBytes"/>).</summary>
    public const int MaxMessageLength = MaxTextBytes / 4;

    /// <summary>Key of the record-id hash: BLAKE3 of the ASCII text "MerkleSync version v1".</summary>
    public static readonly byte[] IdKey = Blake3OneChunk.Hash("MerkleSync version v1"u8);

    public Hash Id => XetHashes.KeyedHash(IdKey, Encode());

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(TimeUnixMs);

    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(128 + Message.Length);
        writer.Write([FormatVersion]);
        Varint.WriteHash(writer, Root);
        Varint.WriteHash(writer, Parent);
        Varint.Write(writer, (ulong)TimeUnixMs);
        Varint.WriteString(writer, Author);
        Varint.WriteString(writer, Message);
        Varint.Write(writer, (ulong)Files);
        Varint.Write(writer, (ulong)Bytes);
        Varint.Write(writer, (ulong)NewBytes);
        return writer.WrittenSpan.ToArray();
    }

    public static VersionRecord Decode(ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        if (reader.ReadByte() != FormatVersion)
        {
            throw new CorruptDataException("Version record has an unknown format version.");
        }

        var record = new VersionRecord(reader.ReadHash(), reader.ReadHash(), reader.ReadInt64Varint(), reader.ReadString(MaxTextBytes),
            reader.ReadString(MaxTextBytes), reader.ReadInt64Varint(), reader.ReadInt64Varint(), reader.ReadInt64Varint());
        return reader.AtEnd ? record : throw new CorruptDataException("Version record has trailing bytes.");
    }
}
