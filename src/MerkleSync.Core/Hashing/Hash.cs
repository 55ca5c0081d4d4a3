using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// A 32-byte hash value (chunk, file, tree node or version id).
/// </summary>
/// <remarks>
/// The bytes are the raw BLAKE3 output. The text form is Xet's: the 32 bytes are read as four
/// little-endian 64-bit words and each word is printed as 16 lowercase hex digits, most
/// significant first. So the hex string is not the plain byte-order hex of the digest; it is
/// what Xet (huggingface_hub, hf_xet) prints and accepts, which lets ids be compared across tools.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
[System.Text.Json.Serialization.JsonConverter(typeof(HashJsonConverter))]
public readonly struct Hash : IEquatable<Hash>, IComparable<Hash>, ISpanFormattable
{
    public const int Size = 32;
    public const int HexLength = 64;

    // Four little-endian words of the digest; word i holds bytes 8i..8i+7.
    private readonly ulong _w0, _w1, _w2, _w3;

    public static readonly Hash Zero;

    private Hash(ulong w0, ulong w1, ulong w2, ulong w3)
    {
        _w0 = w0;
        _w1 = w1;
        _w2 = w2;
        _w3 = w3;
    }

    public static Hash FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            ThrowWrongLength(bytes.Length);
        }

        return new Hash(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]));
    }

    public bool IsZero => (_w0 | _w1 | _w2 | _w3) == 0;

    /// <summary>The first 64-bit word: the first 16 hex digits of the text form, as a number.</summary>
    internal ulong FirstWord => _w0;

    /// <summary>The last 64-bit word, which Xet's aggregation uses for its cut rule.</summary>
    internal ulong LastWord => _w3;

    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            ThrowWrongLength(destination.Length);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], _w3);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    public override string ToString() => string.Create(HexLength, this, static (span, h) => h.FormatHex(span));

    /// <summary>The Xet hex form (see the type remarks).</summary>
    public void FormatHex(Span<char> destination)
    {
        if (destination.Length < HexLength)
        {
            ThrowWrongLength(destination.Length);
        }

        Span<byte> utf8 = stackalloc byte[HexLength];
        FormatHexUtf8(utf8);
        for (int i = 0; i < HexLength; i++)
        {
            destination[i] = (char)utf8[i];
        }
    }

    /// <summary>The hex form as UTF-8 bytes, as Xet writes it inside its aggregation buffers.</summary>
    public void FormatHexUtf8(Span<byte> destination)
    {
        if (destination.Length < HexLength)
        {
            ThrowWrongLength(destination.Length);
        }

        WriteWordUtf8(destination, _w0);
        WriteWordUtf8(destination[16..], _w1);
        WriteWordUtf8(destination[32..], _w2);
        WriteWordUtf8(destination[48..], _w3);
    }

    public static Hash Parse(string hex) =>
        TryParse(hex, out var h) ? h : throw new FormatException($"'{hex}' is not a 64-digit hex hash.");

    public static bool TryParse([NotNullWhen(true)] string? hex, out Hash hash) => TryParse(hex.AsSpan(), out hash);

    public static bool TryParse(ReadOnlySpan<char> hex, out Hash hash)
    {
        hash = default;
        if (hex.Length != HexLength)
        {
            return false;
        }

        if (!TryParseWord(hex[..16], out var w0) || !TryParseWord(hex[16..32], out var w1)
            || !TryParseWord(hex[32..48], out var w2) || !TryParseWord(hex[48..], out var w3))
        {
            return false;
        }

        hash = new Hash(w0, w1, w2, w3);
        return true;
    }

    public bool Equals(Hash other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    public override bool Equals(object? obj) => obj is Hash other && Equals(other);

    // The digest is uniformly distributed, so one word is as good a hash code as any mix.
    public override int GetHashCode() => (int)_w0 ^ (int)(_w0 >> 32);

    /// <summary>Orders by the raw digest bytes, the order a byte-wise key-value store sees.</summary>
    public int CompareTo(Hash other)
    {
        int c = BinaryPrimitives.ReverseEndianness(_w0).CompareTo(BinaryPrimitives.ReverseEndianness(other._w0));
        if (c != 0) return c;
        c = BinaryPrimitives.ReverseEndianness(_w1).CompareTo(BinaryPrimitives.ReverseEndianness(other._w1));
        if (c != 0) return c;
        c = BinaryPrimitives.ReverseEndianness(_w2).CompareTo(BinaryPrimitives.ReverseEndianness(other._w2));
        if (c != 0) return c;
        return BinaryPrimitives.ReverseEndianness(_w3).CompareTo(BinaryPrimitives.ReverseEndianness(other._w3));
    }

    public static bool operator ==(Hash left, Hash right) => left.Equals(right);
    public static bool operator !=(Hash left, Hash right) => !left.Equals(right);
    public static bool operator <(Hash left, Hash right) => left.CompareTo(right) < 0;
    public static bool operator >(Hash left, Hash right) => left.CompareTo(right) > 0;
    public static bool operator <=(Hash left, Hash right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Hash left, Hash right) => left.CompareTo(right) >= 0;

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (destination.Length < HexLength)
        {
            charsWritten = 0;
            return false;
        }

        FormatHex(destination);
        charsWritten = HexLength;
        return true;
    }

    private static void WriteWordUtf8(Span<byte> destination, ulong word)
    {
        for (int i = 15; i >= 0; i--)
        {
            destination[i] = "0123456789abcdef"u8[(int)(word & 0xF)];
            word >>= 4;
        }
    }

    private static bool TryParseWord(ReadOnlySpan<char> hex, out ulong word)
    {
        word = 0;
        foreach (char c in hex)
        {
            int v = HexValue(c);
            if (v < 0)
            {
                return false;
            }

            word = (word << 4) | (uint)v;
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    [DoesNotReturn]
    private static void ThrowWrongLength(int length) =>
        throw new ArgumentException($"A hash needs {Size} bytes or {HexLength} characters; got a span of {length}.");
}

/// <summary>A hash in JSON is its Xet text form.</summary>
public sealed class HashJsonConverter : System.Text.Json.Serialization.JsonConverter<Hash>
{
    public override Hash Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        Hash.TryParse(reader.GetString(), out var hash) ? hash : throw new System.Text.Json.JsonException("Expected a 64-digit hex hash.");

    public override void Write(System.Text.Json.Utf8JsonWriter writer, Hash value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
