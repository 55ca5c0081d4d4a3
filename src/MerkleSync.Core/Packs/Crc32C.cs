using System.Buffers.Binary;
using System.Numerics;

namespace MerkleSync.Core.Packs;

/// <summary>CRC-32C (Castagnoli), as in iSCSI and ext4, using the CPU's CRC32 instruction where present.</summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Start, data));

    internal const uint Start = 0xFFFFFFFF;

    internal static uint Finish(uint state) => ~state;

    internal static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
