using System.Buffers.Text;
using MerkleSync.Core.Chunking;
using Hasher = Blake3.Hasher;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// The hash functions of Hugging Face's Xet format: chunk hashes, the aggregated
/// (variable-branching Merkle) hash over a chunk list, and the file hash.
/// </summary>
/// <remarks>Constants come from xet-core's <c>merklehash</c> module; docs/format.md restates them.</remarks>
public static class XetHashes
{
    /// <summary>BLAKE3 key for chunk (leaf) hashes: Xet's <c>DATA_KEY</c>.</summary>
    internal static ReadOnlySpan<byte> DataKey =>
    [
        102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
        157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41,
    ];

    /// <summary>BLAKE3 key for inner nodes of the aggregation: Xet's <c>INTERNAL_NODE_HASH</c>.</summary>
    internal static ReadOnlySpan<byte> InternalNodeKey =>
    [
        1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
        93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63,
    ];

    /// <summary>Mean branching factor of the aggregation tree.</summary>
    public const int MeanBranchingFactor = 4;

    /// <summary>Groups hold at most 2·factor + 1 children.</summary>
    public const int MaxGroupSize = (2 * MeanBranchingFactor) + 1;

    // One "{hex} : {decimal}\n" line: 64 + 3 + at most 20 digits + 1.
    private const int MaxLineLength = Hash.HexLength + 3 + 20 + 1;

    /// <summary>The hash of one chunk's bytes.</summary>
    public static Hash ChunkHash(ReadOnlySpan<byte> data) =>
        data.Length == ChunkingParameters.MaximumChunkSize && !data.ContainsAnyExcept((byte)0) ? ZeroChunkHash : KeyedHash(DataKey, data);

    /// <summary>
    /// The hash of a maximum-size chunk of zeros, what a run of zeros (a sparse file's hole,
    /// preallocated space) is cut into: hashed once, not each time a push, pull or verify meets one.
    /// </summary>
    private static readonly Hash ZeroChunkHash = KeyedHash(DataKey, new byte[ChunkingParameters.MaximumChunkSize]);

    /// <summary>True if <paramref name="chunk"/> is the hash of a maximum-size chunk of zeros, whose bytes are known without reading them.</summary>
    public static bool IsZeroChunk(Hash chunk) => chunk == ZeroChunkHash;

    /// <summary>The bytes of the chunk that <see cref="IsZeroChunk"/> names.</summary>
    public static ReadOnlyMemory<byte> ZeroChunk { get; } = new byte[ChunkingParameters.MaximumChunkSize];

    /// <summary>The hash of an inner node's serialized children.</summary>
    public static Hash InternalNodeHash(ReadOnlySpan<byte> data) => KeyedHash(InternalNodeKey, data);

    /// <summary>
    /// Xet's file hash: the aggregated hash of the chunk list, then keyed BLAKE3 with an all-zero
    /// key (the unsalted "hmac"). An empty file hashes to all zeros.
    /// </summary>
    public static Hash FileHash(ReadOnlySpan<ChunkRef> chunks)
    {
        if (chunks.IsEmpty)
        {
            return Hash.Zero;
        }

        Span<byte> root = stackalloc byte[Hash.Size];
        AggregatedHash(chunks).WriteTo(root);
        return KeyedHash(stackalloc byte[32], root);
    }

    /// <summary>
    /// Xet's aggregated hash (the xorb hash): collapse the list level by level into groups cut where
    /// a child's last hash word is divisible by the branching factor (groups of 3 to 9, or the
    /// remainder), until one node is left.
    /// </summary>
    public static Hash AggregatedHash(ReadOnlySpan<ChunkRef> chunks)
    {
        if (chunks.IsEmpty)
        {
            return Hash.Zero;
        }

        if (chunks.Length == 1)
        {
            return chunks[0].Hash;
        }

        // One level at a time; each level is at most half the size of the one below.
        var level = new ChunkRef[(chunks.Length + 1) / 2];
        int count = CollapseLevel(chunks, level);
        while (count > 1)
        {
            count = CollapseLevel(level.AsSpan(0, count), level);
        }

        return level[0].Hash;
    }

    // Writes the parents of `nodes` to the front of `parents`; in-place use is safe because
    // parent i is written only after children up to at least 2i+1 have been read.
    private static int CollapseLevel(ReadOnlySpan<ChunkRef> nodes, Span<ChunkRef> parents)
    {
        int written = 0;
        int read = 0;
        while (read < nodes.Length)
        {
            int cut = NextCut(nodes[read..]);
            parents[written++] = MergeGroup(nodes.Slice(read, cut));
            read += cut;
        }

        return written;
    }

    private static int NextCut(ReadOnlySpan<ChunkRef> nodes)
    {
        if (nodes.Length <= 2)
        {
            return nodes.Length;
        }

        int end = Math.Min(MaxGroupSize, nodes.Length);
        for (int i = 2; i < end; i++)
        {
            if (nodes[i].Hash.LastWord % MeanBranchingFactor == 0)
            {
                return i + 1;
            }
        }

        return end;
    }

    private static ChunkRef MergeGroup(ReadOnlySpan<ChunkRef> group)
    {
        Span<byte> buffer = stackalloc byte[MaxGroupSize * MaxLineLength];
        int pos = 0;
        ulong total = 0;
        foreach (var child in group)
        {
            child.Hash.FormatHexUtf8(buffer[pos..]);
            pos += Hash.HexLength;
            " : "u8.CopyTo(buffer[pos..]);
            pos += 3;
            Utf8Formatter.TryFormat(child.Length, buffer[pos..], out int digits);
            pos += digits;
            buffer[pos++] = (byte)'\n';
            total += child.Length;
        }

        return new ChunkRef(InternalNodeHash(buffer[..pos]), total);
    }

    internal static Hash KeyedHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Hash.Size];
        if (data.Length <= Blake3OneChunk.MaxLength)
        {
            Blake3OneChunk.KeyedHash(key, data, digest);
        }
        else if (Blake3Wide.IsSupported)
        {
            Blake3Wide.KeyedHash(key, data, digest);
        }
        else
        {
            using var hasher = Hasher.NewKeyed(key);
            hasher.Update(data);
            hasher.Finalize(digest);
        }

        return Hash.FromBytes(digest);
    }
}
