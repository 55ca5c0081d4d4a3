using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tests.Hashing;

/// <summary>
/// The AVX-512 keyed BLAKE3 against the official test vectors (BLAKE3-team/BLAKE3,
/// test_vectors/test_vectors.json: the first 32 bytes of each keyed_hash) and against the Blake3 package,
/// the one-chunk keyed BLAKE3, the incremental derive-key BLAKE3 and the formats' keys against the package.
/// </summary>
public class Blake3WideTests
{
    private static readonly byte[] VectorKey = Encoding.ASCII.GetBytes("whats the Elvish word for friend");

    [Theory]
    [InlineData(1025, "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69")]
    [InlineData(2048, "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1")]
    [InlineData(2049, "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5")]
    [InlineData(3072, "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770")]
    [InlineData(3073, "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a")]
    [InlineData(4096, "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0")]
    [InlineData(4097, "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc")]
    [InlineData(5120, "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20")]
    [InlineData(5121, "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024")]
    [InlineData(6144, "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d")]
    [InlineData(6145, "9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539")]
    [InlineData(7168, "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc")]
    [InlineData(7169, "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511")]
    [InlineData(8192, "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a")]
    [InlineData(8193, "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5")]
    [InlineData(16384, "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d")]
    [InlineData(31744, "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419")]
    [InlineData(102400, "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7")]
    public void Matches_the_official_keyed_hash_vectors(int length, string expected)
    {
        byte[] input = [.. Enumerable.Range(0, length).Select(i => (byte)(i % 251))];

        Assert.Equal(expected, Convert.ToHexStringLower(Wide(VectorKey, input)));
        Assert.Equal(expected, Convert.ToHexStringLower(XetHashes.KeyedHash(VectorKey, input).ToArray()));
    }

    [Property(MaxTest = 300)]
    public Property Matches_the_Blake3_package_for_any_length_and_key()
    {
        // Lengths around the chunk, pass (16 chunks) and stack (256 chunks) boundaries, and Xet chunk sizes.
        var lengths = Gen.OneOf(Gen.Choose(1025, 40_000), Gen.Choose(250_000, 300_000), Gen.Elements(16 * 1024, (16 * 1024) + 1, 17 * 1024, 256 * 1024, (256 * 1024) + 1, 131_072));
        return Prop.ForAll(Arb.From(lengths), Arb.From(Gen.Choose(0, int.MaxValue)), (length, seed) =>
        {
            var random = new Random(seed);
            byte[] key = new byte[32], input = new byte[length];
            random.NextBytes(key);
            random.NextBytes(input);
            return Wide(key, input).AsSpan().SequenceEqual(Package(key, input));
        });
    }

    [Fact]
    public void The_one_chunk_hash_matches_the_Blake3_package_for_every_length_up_to_a_chunk()
    {
        var random = new Random(5);
        byte[] key = new byte[32], input = new byte[Blake3OneChunk.MaxLength], ours = new byte[32];
        for (int length = 0; length <= Blake3OneChunk.MaxLength; length++)
        {
            random.NextBytes(key);
            random.NextBytes(input);
            Blake3OneChunk.KeyedHash(key, input.AsSpan(0, length), ours);
            Assert.Equal(Package(key, input.AsSpan(0, length)), ours);
        }

        Assert.Throws<ArgumentException>(() => Blake3OneChunk.KeyedHash(key, new byte[Blake3OneChunk.MaxLength + 1], ours));
    }

    [Property(MaxTest = 200)]
    public Property The_incremental_derive_key_hash_matches_the_Blake3_package_for_any_length_and_pieces()
    {
        // Lengths around the chunk, the sixteen-chunk batch (and two, three of them) and the 256-chunk stack; pieces of any size.
        var lengths = Gen.OneOf(
            Gen.Choose(0, 3000),
            Gen.Choose(15_000, 70_000),
            Gen.Elements(1024, 1025, 16 * 1024, (16 * 1024) + 1, 32 * 1024, (32 * 1024) + 1, 48 * 1024, 256 * 1024, (256 * 1024) + 1, 300_000));
        return Prop.ForAll(Arb.From(lengths), Arb.From(Gen.Choose(0, int.MaxValue)), (length, seed) =>
        {
            var random = new Random(seed);
            byte[] input = new byte[length];
            random.NextBytes(input);
            string context = $"merklesync test context {seed}";
            byte[] actual = new byte[32], expected = new byte[32];
            using (var ours = Blake3Incremental.NewDeriveKey(context))
            {
                for (int at = 0; at < length;)
                {
                    int piece = Math.Min(length - at, random.Next(2) == 0 ? random.Next(1, 100) : random.Next(1, 70_000));
                    ours.Update(input.AsSpan(at, piece));
                    at += piece;
                }

                ours.Finalize(actual);
            }

            using (var package = Blake3.Hasher.NewDeriveKey(context))
            {
                package.Update(input);
                package.Finalize(expected);
            }

            return actual.AsSpan().SequenceEqual(expected);
        });
    }

    [Fact]
    public void The_formats_keys_are_BLAKE3_of_their_texts()
    {
        Assert.Equal(Blake3.Hasher.Hash("MerkleSync tree node v1"u8).AsSpan().ToArray(), MerkleSync.Core.Tree.TreeFormat.NodeKey);
        Assert.Equal(Blake3.Hasher.Hash("MerkleSync tree boundary v1"u8).AsSpan().ToArray(), MerkleSync.Core.Tree.TreeFormat.BoundaryKey);
        Assert.Equal(Blake3.Hasher.Hash("MerkleSync pack v1"u8).AsSpan().ToArray(), MerkleSync.Core.Packs.PackFormat.PackKey);
        Assert.Equal(Blake3.Hasher.Hash("MerkleSync version v1"u8).AsSpan().ToArray(), MerkleSync.Core.Index.VersionRecord.IdKey);
    }

    private static byte[] Package(byte[] key, ReadOnlySpan<byte> input)
    {
        using var hasher = Blake3.Hasher.NewKeyed(key);
        hasher.Update(input);
        byte[] expected = new byte[32];
        hasher.Finalize(expected);
        return expected;
    }

    // Without AVX-512 the hashes go through the package; the tests then check that fallback.
    private static byte[] Wide(byte[] key, byte[] input)
    {
        if (!Blake3Wide.IsSupported)
        {
            return XetHashes.KeyedHash(key, input).ToArray();
        }

        byte[] output = new byte[32];
        Blake3Wide.KeyedHash(key, input, output);
        return output;
    }
}
