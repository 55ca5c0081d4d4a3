using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tests.Hashing;

public class HashTests
{
    [Fact]
    public void Hex_form_prints_each_little_endian_word_most_significant_digit_first()
    {
        byte[] bytes = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

        var hash = Hash.FromBytes(bytes);

        Assert.Equal("07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918", hash.ToString());
    }

    [Property]
    public bool Hex_round_trips(byte[] seed)
    {
        byte[] bytes = new byte[32];
        seed.AsSpan(0, Math.Min(32, seed.Length)).CopyTo(bytes);
        var hash = Hash.FromBytes(bytes);

        return Hash.Parse(hash.ToString()) == hash && Hash.Parse(hash.ToString().ToUpperInvariant()) == hash
            && hash.ToArray().AsSpan().SequenceEqual(bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("zz06050403020100 0f0e0d0c0b0a090817161514131211101f1e1d1c1b1a19")]
    [InlineData("07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a19181")]
    public void Parse_rejects_what_is_not_64_hex_digits(string text)
    {
        Assert.False(Hash.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Hash.Parse(text));
    }

    [Fact]
    public void Order_follows_the_raw_bytes()
    {
        var low = Hash.FromBytes([0x01, .. new byte[31]]);
        var high = Hash.FromBytes([0x02, .. new byte[31]]);
        var lastByte = Hash.FromBytes([.. new byte[31], 0xff]);

        Assert.True(low < high);
        Assert.True(lastByte < low);
    }

    [Fact]
    public void Chunk_and_node_hashes_use_different_keys()
    {
        byte[] data = "hello world"u8.ToArray();

        Assert.NotEqual(XetHashes.ChunkHash(data), XetHashes.InternalNodeHash(data));
    }

    [Fact]
    public void Aggregated_hash_of_one_chunk_is_the_chunk_hash()
    {
        var chunk = new ChunkRef(XetHashes.ChunkHash("x"u8), 1);

        Assert.Equal(chunk.Hash, XetHashes.AggregatedHash([chunk]));
        Assert.NotEqual(chunk.Hash, XetHashes.FileHash([chunk]));
    }
}
