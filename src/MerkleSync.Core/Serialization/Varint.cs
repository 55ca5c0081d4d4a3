using System.Buffers;

namespace MerkleSync.Core.Serialization;

/// <summary>Unsigned LEB128: 7 bits a byte, low bits first, high bit set on all but the last byte.</summary>
internal static class Varint
{
    public const int MaxLength = 10;

    public static void Write(IBufferWriter<byte> writer, ulong value)
    {
        Span<byte> span = writer.GetSpan(MaxLength);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        writer.Advance(i);
    }

    public static void WriteString(IBufferWriter<byte> writer, string value)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(value);
        Write(writer, (ulong)utf8.Length);
        writer.Write(utf8);
    }

    public static void WriteHash(IBufferWriter<byte> writer, Hashing.Hash hash)
    {
        hash.WriteTo(writer.GetSpan(Hashing.Hash.Size));
        writer.Advance(Hashing.Hash.Size);
    }

    /// <summary>A chunk list as the stat cache and file-records bodies hold it: count, then hash · length of each chunk.</summary>
    public static void WriteChunkList(IBufferWriter<byte> writer, ReadOnlySpan<Hashing.ChunkRef> chunks)
    {
        Write(writer, (ulong)chunks.Length);
        foreach (var chunk in chunks)
        {
            WriteHash(writer, chunk.Hash);
            Write(writer, chunk.Length);
        }
    }
}
