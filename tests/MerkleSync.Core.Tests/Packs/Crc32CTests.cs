using System.Text;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Tests.Packs;

public class Crc32CTests
{
    [Fact]
    public void Matches_the_standard_check_value_and_iSCSI_vectors()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32])); // RFC 3720 B.4: 32 bytes of zeros
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    [Fact]
    public void Three_interleaved_streams_give_the_byte_at_a_time_result_at_every_length_and_split()
    {
        var random = new Random(3);
        byte[] data = new byte[20_000];
        random.NextBytes(data);
        foreach (int length in new[] { 0, 1, 7, 8, 3071, 3072, 3073, 6144, 9999, 20_000 })
        {
            uint expected = Crc32C.Finish(ByteAtATime(Crc32C.Start, data.AsSpan(0, length)));
            Assert.Equal(expected, Crc32C.Compute(data.AsSpan(0, length)));
            int split = length == 0 ? 0 : random.Next(length);
            Assert.Equal(expected, Crc32C.Finish(Crc32C.Append(Crc32C.Append(Crc32C.Start, data.AsSpan(0, split)), data.AsSpan(split, length - split))));
        }
    }

    // The definition, one byte per step, bit by bit: no hardware instruction, no tables.
    private static uint ByteAtATime(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return crc;
    }
}
