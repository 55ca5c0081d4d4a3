using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>Constants of the snapshot tree format (docs/format.md, "Snapshot tree").</summary>
public static class TreeFormat
{
    public const byte Version = 1;

    /// <summary>A leaf closes after an entry whose key hash has this many low zero bits (mean 64 entries).</summary>
    public const int LeafBits = 6;

    /// <summary>Each level above the leaves needs this many more zero bits (mean 32 children).</summary>
    public const int LevelBits = 5;

    /// <summary>Hard caps (4× the mean) so no crafted path set can make a huge node.</summary>
    public const int MaxLeafEntries = 256;

    public const int MaxChildren = 128;

    /// <summary>Levels are counted in a byte; 1M entries need about 4.</summary>
    public const int MaxLevel = 32;

    /// <summary>Key of the node-id hash: BLAKE3 of the ASCII text "MerkleSync tree node v1".</summary>
    public static readonly byte[] NodeKey = Blake3OneChunk.Hash("MerkleSync tree node v1"u8);

    /// <summary>Key of the boundary hash: BLAKE3 of the ASCII text "MerkleSync tree boundary v1".</summary>
    public static readonly byte[] BoundaryKey = Blake3OneChunk.Hash("MerkleSync tree boundary v1"u8);

    /// <summary>A node's id: keyed BLAKE3 of its encoding.</summary>
    public static Hash NodeId(ReadOnlySpan<byte> encodedNode) => XetHashes.KeyedHash(NodeKey, encodedNode);

    /// <summary>
    /// A digest of a sorted entry list (each entry's UTF-8 path, a zero byte, mode, size and file
    /// hash), cheap next to building its tree: equal digests mean the same entries, hence the same tree.
    /// </summary>
    public static Hash EntriesDigest(IEnumerable<TreeEntry> sortedEntries)
    {
        using var hasher = new PathRecordHasher("merklesync 2026 snapshot entries digest v1", 1 + 8 + Hash.Size);
        foreach (var entry in sortedEntries)
        {
            var fixedPart = hasher.Add(entry.Path);
            fixedPart[0] = (byte)entry.Mode;
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(fixedPart[1..], entry.Size);
            entry.FileHash.WriteTo(fixedPart[9..]);
        }

        return hasher.Finish();
    }

    /// <summary>The 64-bit boundary value of a path: the first 8 bytes (little-endian) of keyed BLAKE3 of its UTF-8.</summary>
    public static ulong BoundaryHash(string path)
    {
        Span<byte> utf8 = path.Length <= 512 ? stackalloc byte[path.Length * 3] : new byte[path.Length * 3];
        int length = DatasetPath.Utf8.GetBytes(path, utf8);
        return XetHashes.KeyedHash(BoundaryKey, utf8[..length]).FirstWord;
    }

    /// <summary>Whether an item whose key has <paramref name="boundaryHash"/> may close a node at <paramref name="level"/>.</summary>
    public static bool IsBoundary(ulong boundaryHash, int level)
    {
        int bits = LeafBits + (LevelBits * level);
        return bits >= 64 ? boundaryHash == 0 : (boundaryHash & ((1UL << bits) - 1)) == 0;
    }
}
