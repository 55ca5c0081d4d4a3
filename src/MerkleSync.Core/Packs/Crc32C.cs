using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace MerkleSync.Core.Packs;

/// <summary>CRC-32C (Castagnoli), as in iSCSI and ext4, using the CPU's CRC32 instruction where present.</summary>
public static class Crc32C
{
    // Long inputs run as three interleaved streams of this many bytes: the CRC32 instruction takes
    // about three cycles but can start every cycle, so a single dependent stream uses a third of it.
    private const int StreamBytes = 1024;

    // Shift(x) = the state after StreamBytes zero bytes from state x. CRC updates are linear over
    // GF(2), so this is four 256-entry tables, one per byte of x.
    private static readonly uint[] ShiftTables = BuildShiftTables();

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Start, data));

    internal const uint Start = 0xFFFFFFFF;

    internal static uint Finish(uint state) => ~state;

    internal static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        // Words read in machine order (one bounds check per block, not per word): little-endian only.
        while (BitConverter.IsLittleEndian && data.Length >= 3 * StreamBytes)
        {
            // a||b||c from state crc = Shift(Shift(crc over a) ^ (0 over b)) ^ (0 over c).
            var words = MemoryMarshal.Cast<byte, ulong>(data[..(3 * StreamBytes)]);
            const int Words = StreamBytes / 8;
            uint crcA = crc, crcB = 0, crcC = 0;
            for (int i = 0; i < Words; i++)
            {
                crcA = BitOperations.Crc32C(crcA, words[i]);
                crcB = BitOperations.Crc32C(crcB, words[Words + i]);
                crcC = BitOperations.Crc32C(crcC, words[(2 * Words) + i]);
            }

            crc = Shift(Shift(crcA) ^ crcB) ^ crcC;
            data = data[(3 * StreamBytes)..];
        }

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

    private static uint Shift(uint x)
    {
        uint[] t = ShiftTables;
        return t[(byte)x] ^ t[256 + (byte)(x >> 8)] ^ t[512 + (byte)(x >> 16)] ^ t[768 + (x >> 24)];
    }

    private static uint[] BuildShiftTables()
    {
        Span<uint> bit = stackalloc uint[32];
        for (int j = 0; j < 32; j++)
        {
            uint state = 1u << j;
            for (int i = 0; i < StreamBytes; i += 8)
            {
                state = BitOperations.Crc32C(state, 0UL);
            }

            bit[j] = state;
        }

        var tables = new uint[4 * 256];
        for (int k = 0; k < 4; k++)
        {
            for (int value = 1; value < 256; value++)
            {
                uint shifted = 0;
                for (int j = 0; j < 8; j++)
                {
                    if ((value & (1 << j)) != 0)
                    {
                        shifted ^= bit[(8 * k) + j];
                    }
                }

                tables[(256 * k) + value] = shifted;
            }
        }

        return tables;
    }
}
