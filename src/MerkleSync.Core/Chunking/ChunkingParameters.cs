namespace MerkleSync.Core.Chunking;

/// <summary>Xet's content-defined chunking constants.</summary>
public static class ChunkingParameters
{
    public const int TargetChunkSize = 64 * 1024;
    public const int MinimumChunkSize = TargetChunkSize / 8;
    public const int MaximumChunkSize = TargetChunkSize * 2;

    /// <summary>Bytes that influence the gear hash at any position (its 64-bit width).</summary>
    public const int HashWindowSize = 64;

    /// <summary>
    /// A boundary may follow a byte whose hash has these bits all zero: the target-size mask
    /// (0xFFFF) shifted to the top, because the low bits of a gear hash depend on few bytes.
    /// </summary>
    public const ulong BoundaryMask = 0xFFFF_0000_0000_0000UL;
}
