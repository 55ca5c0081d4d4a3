using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Serialization;

/// <summary>Bounds-checked reads from untrusted bytes; every overrun is a <see cref="CorruptDataException"/>.</summary>
internal ref struct SpanReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool AtEnd => _position == _data.Length;

    public readonly int Remaining => _data.Length - _position;

    public byte ReadByte()
    {
        if (_position >= _data.Length)
        {
            throw Truncated();
        }

        return _data[_position++];
    }

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || count > _data.Length - _position)
        {
            throw Truncated();
        }

        var bytes = _data.Slice(_position, count);
        _position += count;
        return bytes;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = ReadByte();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                // The canonical encoding has no superfluous zero continuation bytes.
                if (b == 0 && shift > 0)
                {
                    throw new CorruptDataException("Varint is not minimally encoded.");
                }

                if (shift == 63 && b > 1)
                {
                    throw new CorruptDataException("Varint overflows 64 bits.");
                }

                return value;
            }
        }

        throw new CorruptDataException("Varint is longer than 10 bytes.");
    }

    public long ReadInt64Varint()
    {
        ulong value = ReadVarint();
        return value <= long.MaxValue ? (long)value : throw new CorruptDataException("Count or size does not fit a signed 64-bit number.");
    }

    /// <summary>A varint that must be at most <paramref name="max"/>.</summary>
    public int ReadLength(int max)
    {
        ulong value = ReadVarint();
        return value <= (ulong)Math.Max(max, 0) ? (int)value : throw new CorruptDataException($"Length {value} exceeds the limit {max}.");
    }

    public Hashing.Hash ReadHash() => Hashing.Hash.FromBytes(ReadBytes(Hashing.Hash.Size));

    /// <summary>A chunk list as <see cref="Varint.WriteChunkList"/> writes it; its count is bounded by what is left (33 bytes a chunk at least).</summary>
    public Hashing.ChunkRef[] ReadChunkList()
    {
        var chunks = new Hashing.ChunkRef[ReadLength(Remaining / 33)];
        for (int i = 0; i < chunks.Length; i++)
        {
            chunks[i] = new Hashing.ChunkRef(ReadHash(), ReadVarint());
        }

        return chunks;
    }

    public string ReadString(int maxBytes)
    {
        var bytes = ReadBytes(ReadLength(maxBytes));
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new CorruptDataException("Text field is not valid UTF-8.", e);
        }
    }

    public int ReadInt32Varint()
    {
        ulong value = ReadVarint();
        return value <= int.MaxValue ? (int)value : throw new CorruptDataException("Count does not fit a 32-bit number.");
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

    private static CorruptDataException Truncated() => new("Data ends in the middle of a field (truncated).");
}
