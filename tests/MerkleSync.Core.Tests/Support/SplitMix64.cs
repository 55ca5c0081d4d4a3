using System.Buffers.Binary;

namespace MerkleSync.Core.Tests.Support;

/// <summary>SplitMix64, the generator xet-core's golden tests and our vector recipes use.</summary>
internal static class SplitMix64
{
    public static byte[] Bytes(ulong seed, int length)
    {
        var output = new byte[length];
        Span<byte> word = stackalloc byte[8];
        ulong state = seed;
        for (int i = 0; i < length; i += 8)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            BinaryPrimitives.WriteUInt64LittleEndian(word, z);
            word[..Math.Min(8, length - i)].CopyTo(output.AsSpan(i));
        }

        return output;
    }
}
