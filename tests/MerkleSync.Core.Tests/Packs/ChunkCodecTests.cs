using System.Text;
using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Tests.Packs;

public class ChunkCodecTests
{
    private const int ChunkLength = 64 * 1024;

    [Fact]
    public void Byte_entropy_is_zero_for_one_value_one_bit_for_two_and_eight_for_all_256()
    {
        Assert.Equal(0, ChunkCodec.ByteEntropy(new byte[8192]));
        Assert.Equal(1, ChunkCodec.ByteEntropy([.. Enumerable.Range(0, 8192).Select(i => (byte)(i % 2 * 7))]), 12);
        Assert.Equal(8, ChunkCodec.ByteEntropy([.. Enumerable.Range(0, 8192).Select(i => (byte)i)]), 12);
        Assert.Equal(0, ChunkCodec.ByteEntropy([]));
    }

    [Theory]
    [InlineData(Compression.Lz4)]
    [InlineData(Compression.Zstd)]
    public void Random_bytes_are_stored_raw(Compression compression)
    {
        var raw = RandomBytes(ChunkLength, seed: 1);

        var (codec, stored) = Encode(raw, compression);

        Assert.Equal(Codec.None, codec);
        Assert.Equal(raw, stored);
    }

    [Theory]
    [InlineData(Compression.Lz4, Codec.Lz4)]
    [InlineData(Compression.Zstd, Codec.Zstd)]
    public void Text_is_compressed_and_decodes_to_itself(Compression compression, Codec expected)
    {
        var raw = WordText(seed: 2);

        var (codec, stored) = Encode(raw, compression);

        Assert.Equal(expected, codec);
        Assert.True(stored.Length < raw.Length / 2);
        AssertDecodes(raw, codec, stored);
    }

    [Fact]
    public void With_compression_off_every_chunk_is_stored_raw_in_place_or_copied()
    {
        var raw = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("the same words again and again ", 2200))[..ChunkLength]);
        var chunk = raw.ToArray();
        var stored = new byte[raw.Length];

        Assert.Equal((Codec.None, raw.Length), ChunkCodec.Encode(raw, stored, Compression.Off));
        Assert.Equal((Codec.None, raw.Length), ChunkCodec.EncodeInPlace(chunk, Compression.Off));
        Assert.Equal(raw, stored);
        Assert.Equal(raw, chunk);
        Assert.Equal(Codec.Lz4, ChunkCodec.EncodeInPlace(chunk.ToArray(), ChunkCodec.DefaultCompression).Codec); // the same bytes compress when asked
        Assert.Equal(Codec.Zstd, ChunkCodec.EncodeInPlace(chunk, Compression.Zstd).Codec);
    }

    // Random-looking bytes by count that still shrink: the entropy shortcut must not leave them raw.
    [Theory]
    [InlineData(1024, Compression.Lz4, Codec.Lz4)]
    [InlineData(4096, Compression.Lz4, Codec.Lz4)]
    [InlineData(1024, Compression.Zstd, Codec.Zstd)]
    [InlineData(4096, Compression.Zstd, Codec.Zstd)]
    public void Random_bytes_repeated_with_a_short_period_are_compressed(int period, Compression compression, Codec expected)
    {
        var block = RandomBytes(period, seed: period);
        var raw = new byte[ChunkLength];
        for (int at = 0; at < raw.Length; at += period)
        {
            block.CopyTo(raw.AsSpan(at));
        }

        var (codec, stored) = Encode(raw, compression);

        Assert.Equal(expected, codec);
        Assert.True(stored.Length < raw.Length / 4);
        AssertDecodes(raw, codec, stored);
    }

    // Small chunks (whole small files, and chunks under the probe's reach): random ones stay raw, and
    // ones that repeat at half their length are compressed.
    [Theory]
    [InlineData(300)]
    [InlineData(1024)]
    [InlineData(5000)]
    [InlineData(8192)]
    [InlineData(12_000)]
    [InlineData(16_384)]
    public void Small_random_chunks_stay_raw_and_small_chunks_that_repeat_are_compressed(int length)
    {
        foreach (var (compression, expected) in Codecs)
        {
            for (int seed = 0; seed < 200; seed++)
            {
                Assert.Equal(Codec.None, Encode(RandomBytes(length, seed), compression).Codec);

                var half = RandomBytes(length / 2, seed);
                byte[] repeated = [.. half, .. half, .. (length % 2 == 1 ? half[..1] : [])];
                var (codec, stored) = Encode(repeated, compression);
                Assert.Equal(expected, codec);
                AssertDecodes(repeated, codec, stored);
            }
        }
    }

    // Any mix of random and repetitive runs comes back exactly, raw or compressed by either codec, never larger than raw.
    [Property(MaxTest = 60)]
    public void Every_chunk_decodes_to_its_bytes(NonNegativeInt seed, PositiveInt length, byte alphabet)
    {
        var random = new Random(seed.Get);
        var raw = new byte[1 + (length.Get % (128 * 1024))];
        int distinct = 1 + alphabet; // 1 to 256 byte values
        for (int at = 0; at < raw.Length;)
        {
            int run = Math.Min(raw.Length - at, 1 + random.Next(20_000));
            if (random.Next(2) == 0)
            {
                random.NextBytes(raw.AsSpan(at, run));
            }
            else
            {
                for (int i = 0; i < run; i++)
                {
                    raw[at + i] = (byte)random.Next(distinct);
                }
            }

            at += run;
        }

        foreach (var (compression, _) in Codecs)
        {
            var (codec, stored) = Encode(raw, compression);

            Assert.True(stored.Length <= raw.Length);
            AssertDecodes(raw, codec, stored);
        }
    }

    // A pull checks only the chunk hash, not the CRC: a damaged stored byte, raw or inside a zstd
    // frame or LZ4 block, must be refused as corrupt or, where the codec ignores it (a field that
    // does not change the output), decode to exactly the chunk; never into other bytes, never
    // another exception.
    [Property(MaxTest = 300)]
    public void A_damaged_stored_chunk_is_refused_by_its_hash_or_decodes_to_the_chunk_itself(NonNegativeInt position, byte flip, bool text, bool zstd)
    {
        var raw = text ? WordText(seed: 2) : RandomBytes(ChunkLength, seed: 3);
        var (codec, stored) = Encode(raw, zstd ? Compression.Zstd : Compression.Lz4);
        Assert.Equal(!text ? Codec.None : zstd ? Codec.Zstd : Codec.Lz4, codec);
        stored[position.Get % stored.Length] ^= (byte)(flip | 1);

        try
        {
            var decoded = ChunkCodec.DecodeVerified(codec, stored, XetHashes.ChunkHash(raw), raw.Length, new byte[raw.Length]);
            Assert.NotEqual(Codec.None, codec); // a raw chunk's every byte is content
            Assert.Equal(raw, decoded.ToArray());
        }
        catch (Errors.CorruptDataException)
        {
            // refused: what the pull reports
        }
    }

    private static readonly (Compression Compression, Codec Codec)[] Codecs = [(Compression.Lz4, Codec.Lz4), (Compression.Zstd, Codec.Zstd)];

    private static (Codec Codec, byte[] Stored) Encode(byte[] raw, Compression compression)
    {
        var stored = new byte[raw.Length];
        var (codec, length) = ChunkCodec.Encode(raw, stored, compression);
        return (codec, stored[..length]);
    }

    private static void AssertDecodes(byte[] raw, Codec codec, byte[] stored)
    {
        var decoded = ChunkCodec.DecodeVerified(codec, stored, XetHashes.ChunkHash(raw), raw.Length, new byte[raw.Length]);
        Assert.Equal(raw, decoded.ToArray());
    }

    // A chunk of words and sentences: text that zstd shrinks to well under half.
    private static byte[] WordText(int seed)
    {
        var words = new[] { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" };
        var random = new Random(seed);
        var text = new StringBuilder();
        while (text.Length < ChunkLength)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(10) == 0 ? ".\n" : " ");
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, ChunkLength));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
