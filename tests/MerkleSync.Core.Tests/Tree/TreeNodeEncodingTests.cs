using System.Text;
using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Tree;

public class TreeNodeEncodingTests
{
    [Fact]
    public void Persisted_enum_values_never_change()
    {
        Assert.Equal(0, (byte)EntryMode.Regular);
        Assert.Equal(1, (byte)EntryMode.Executable);
        Assert.Equal(2, (byte)EntryMode.Symlink);
        Assert.Equal(1, TreeFormat.Version);
    }

    [Fact]
    public void Leaf_encoding_is_byte_exact()
    {
        var hash = Hash.FromBytes([.. Enumerable.Repeat((byte)0xAB, 32)]);
        var node = TreeNode.Leaf([new TreeEntry("a/b", hash, 300, EntryMode.Regular), new TreeEntry("a/c", hash, 1, EntryMode.Executable)]);

        byte[] expected =
        [
            1, 0, 2,                                  // version, level, count
            0, 3, (byte)'a', (byte)'/', (byte)'b',    // shared 0, rest 3, "a/b"
            0, 0xAC, 0x02, .. Enumerable.Repeat((byte)0xAB, 32), // regular, size 300, hash
            2, 1, (byte)'c',                          // shares "a/", rest "c"
            1, 1, .. Enumerable.Repeat((byte)0xAB, 32),
        ];
        Assert.Equal(expected, node.Encode());
    }

    [Property(MaxTest = 200)]
    public void Encoding_round_trips(NonEmptyString[] names, long[] sizes)
    {
        var paths = names.Select(n => DatasetPath.Validate(n.Get.Replace("/", "_", StringComparison.Ordinal), out var p) is null ? p : null)
            .Where(p => p is not null).Distinct().Order(DatasetPath.Comparer!).Take(TreeFormat.MaxLeafEntries).ToList();
        var entries = paths.Select((p, i) => new TreeEntry(p!, XetHashes.ChunkHash(BitConverter.GetBytes(i)),
            Math.Abs(sizes.Length > 0 ? sizes[i % sizes.Length] % long.MaxValue : i), (EntryMode)(i % 3))).ToArray();

        var decoded = TreeNode.Decode(TreeNode.Leaf(entries).Encode());

        Assert.Equal(entries, decoded.Entries);
    }

    [Property(MaxTest = 300)]
    public void Decoding_arbitrary_bytes_fails_cleanly_or_round_trips(byte[] bytes)
    {
        try
        {
            var node = TreeNode.Decode(bytes);
            Assert.Equal(bytes, node.Encode());
        }
        catch (CorruptDataException)
        {
        }
    }

    [Fact]
    public void Truncated_and_oversized_nodes_are_rejected()
    {
        var entry = new TreeEntry("x", Hash.Zero, 1, EntryMode.Regular);
        byte[] good = TreeNode.Leaf([entry]).Encode();

        Assert.Throws<CorruptDataException>(() => TreeNode.Decode(good.AsSpan(0, good.Length - 1)));
        Assert.Throws<CorruptDataException>(() => TreeNode.Decode([.. good, 0]));
        Assert.Throws<CorruptDataException>(() => TreeNode.Decode([1, 0, 0xFF, 0x7F]));
        Assert.Throws<CorruptDataException>(() => TreeNode.Decode([2, 0, 0]));
    }
}

public class EntriesDigestTests
{
    private static readonly Hash A = XetHashes.ChunkHash([1]), B = XetHashes.ChunkHash([2]);

    [Fact]
    public void Equal_entries_give_equal_digests_and_any_field_changes_it()
    {
        TreeEntry[] entries = [new("a/b", A, 3, EntryMode.Regular), new("a/c", B, 4, EntryMode.Executable)];
        var digest = TreeFormat.EntriesDigest(entries);

        Assert.Equal(digest, TreeFormat.EntriesDigest([.. entries]));
        Assert.NotEqual(digest, TreeFormat.EntriesDigest([entries[0], entries[1] with { Path = "a/d" }]));
        Assert.NotEqual(digest, TreeFormat.EntriesDigest([entries[0], entries[1] with { FileHash = A }]));
        Assert.NotEqual(digest, TreeFormat.EntriesDigest([entries[0], entries[1] with { Size = 5 }]));
        Assert.NotEqual(digest, TreeFormat.EntriesDigest([entries[0], entries[1] with { Mode = EntryMode.Regular }]));
        Assert.NotEqual(digest, TreeFormat.EntriesDigest([entries[0]]));
        // Path and the fixed fields cannot run into each other: "a/b" + size 3 is not "a/b\0..." shifted.
        Assert.NotEqual(TreeFormat.EntriesDigest([new("ab", A, 3, EntryMode.Regular)]), TreeFormat.EntriesDigest([new("a", A, 3, EntryMode.Regular)]));
    }

    [Fact]
    public void The_digest_is_the_documented_byte_stream_for_any_number_and_length_of_paths()
    {
        // Enough entries to span several of the digest's internal buffers, and one path longer than a buffer.
        var entries = Enumerable.Range(0, 5000)
            .Select(i => new TreeEntry($"d{i / 100:D3}/f{i:D5}" + (i == 2500 ? new string('\u00e9', 40_000) : ""), i % 2 == 0 ? A : B, i * 7L, i % 3 == 0 ? EntryMode.Executable : EntryMode.Regular))
            .ToList();
        var stream = new MemoryStream();
        foreach (var entry in entries)
        {
            stream.Write(Encoding.UTF8.GetBytes(entry.Path));
            stream.WriteByte(0);
            stream.WriteByte((byte)entry.Mode);
            byte[] size = new byte[sizeof(long)];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(size, entry.Size);
            stream.Write(size);
            stream.Write(entry.FileHash.ToArray());
        }

        using var hasher = Blake3.Hasher.NewDeriveKey("merklesync 2026 snapshot entries digest v1");
        hasher.Update(stream.ToArray());
        Span<byte> expected = stackalloc byte[Hash.Size];
        hasher.Finalize(expected);
        Assert.Equal(Hash.FromBytes(expected), TreeFormat.EntriesDigest(entries));
    }
}
