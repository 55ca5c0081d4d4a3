using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MerkleSync.Core.Chunking;

/// <summary>
/// Xet's gear-hash content-defined chunker as a push-based state machine: feed it bytes in any
/// pieces and it says where the current chunk ends. It does no I/O and keeps no data, only the
/// rolling hash and the length of the chunk so far, so the boundaries depend on the content alone,
/// never on how the input was split into reads.
/// </summary>
public struct GearChunker
{
    private ulong _hash;
    private int _chunkLength;

    /// <summary>
    /// Xet (since 2025-09) ignores a hash match that would end a chunk below the minimum size,
    /// which can only come from the hash state left before the window filled. Older Xet
    /// clients and the <c>@huggingface/xetchunk-wasm</c> package (0.2.0) still cut there;
    /// <see cref="CreateLegacy"/> reproduces that for conformance testing.
    /// </summary>
    private bool _acceptEarlyMatch;

    /// <summary>A chunker that matches Xet's current reference (Rust) implementation.</summary>
    public static GearChunker Create() => default;

    /// <summary>A chunker that also cuts on a match below the minimum size, as Xet did before 2025-09.</summary>
    public static GearChunker CreateLegacy() => new() { _acceptEarlyMatch = true };

    /// <summary>Bytes of the current, unfinished chunk already seen.</summary>
    public readonly int PendingLength => _chunkLength;

    /// <summary>
    /// Scans <paramref name="data"/>, which continues whatever was fed before. Returns how many of its
    /// bytes complete the current chunk (then the chunker starts a new one), or -1 when no boundary is
    /// in <paramref name="data"/> (all of it then belongs to the current chunk).
    /// </summary>
    public int NextBoundary(ReadOnlySpan<byte> data)
    {
        int previous = _chunkLength;
        int index = 0;

        // Bytes before the minimum cannot end a chunk, and only the last 64 bytes influence the
        // hash, so hashing starts 65 bytes before the minimum.
        if (previous + ChunkingParameters.HashWindowSize < ChunkingParameters.MinimumChunkSize)
        {
            index = Math.Min(ChunkingParameters.MinimumChunkSize - previous - ChunkingParameters.HashWindowSize - 1, data.Length);
        }

        int readEnd = Math.Min(data.Length, ChunkingParameters.MaximumChunkSize - previous);
        bool cut = false;
        while (index < readEnd)
        {
            // A run of zeros (a sparse file's hole, preallocated space) is hashed only for its first
            // 64 bytes: from then on the hash is ZeroRunHash, which cannot match, so the run is skipped.
            int zeros = ZeroRunsCannotMatch ? data[index..readEnd].IndexOfAnyExcept((byte)0) : 0;
            zeros = zeros < 0 ? readEnd - index : zeros;
            bool skipRun = zeros > ChunkingParameters.HashWindowSize;
            int match = ScanForMatch(ref _hash, data[index..(skipRun ? index + ChunkingParameters.HashWindowSize : readEnd)]);
            if (match < 0 && skipRun)
            {
                index += zeros;
                continue;
            }

            if (match < 0)
            {
                index = readEnd;
                break;
            }

            index += match;
            if (index + previous >= ChunkingParameters.MinimumChunkSize || _acceptEarlyMatch)
            {
                cut = true;
                break;
            }
        }

        if (index + previous >= ChunkingParameters.MaximumChunkSize)
        {
            index = ChunkingParameters.MaximumChunkSize - previous;
            cut = true;
        }

        if (cut)
        {
            _hash = 0;
            _chunkLength = 0;
            return index;
        }

        _chunkLength = previous + data.Length;
        return -1;
    }

#pragma warning disable IDE0044 // Not readonly on purpose: a readonly static would be folded back into a constant.
    private static ulong s_boundaryMask = ChunkingParameters.BoundaryMask;
#pragma warning restore IDE0044

    /// <summary>
    /// The hash after 64 or more zero bytes, whatever came before: each step shifts the old state
    /// one bit further out, and the table's word for 0 summed over 64 shifts is -table[0].
    /// </summary>
    private static readonly ulong ZeroRunHash = unchecked(0UL - GearTable.Values[0]);

    /// <summary>True for Xet's table: runs of zeros are then skipped rather than hashed byte by byte.</summary>
    private static readonly bool ZeroRunsCannotMatch = (ZeroRunHash & ChunkingParameters.BoundaryMask) != 0;

    /// <summary>
    /// Rolls the gear hash over <paramref name="data"/> and returns the count of bytes up to and
    /// including the first that leaves the masked bits zero, or -1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScanForMatch(ref ulong hash, ReadOnlySpan<byte> data)
    {
        ref ulong table = ref MemoryMarshal.GetArrayDataReference(GearTable.Values);
        ref byte start = ref MemoryMarshal.GetReference(data);
        ulong mask = s_boundaryMask; // a variable, so the JIT keeps it in a register instead of reloading the constant per byte
        ulong h = hash;
        nint length = data.Length;
        nint i = 0;

        // Unrolled by four; the hash is one add-and-shift chain, so the gain is in fewer branches.
        for (; i + 4 <= length; i += 4)
        {
            h = (h << 1) + Unsafe.Add(ref table, Unsafe.Add(ref start, i));
            if ((h & mask) == 0) { hash = h; return (int)i + 1; }
            h = (h << 1) + Unsafe.Add(ref table, Unsafe.Add(ref start, i + 1));
            if ((h & mask) == 0) { hash = h; return (int)i + 2; }
            h = (h << 1) + Unsafe.Add(ref table, Unsafe.Add(ref start, i + 2));
            if ((h & mask) == 0) { hash = h; return (int)i + 3; }
            h = (h << 1) + Unsafe.Add(ref table, Unsafe.Add(ref start, i + 3));
            if ((h & mask) == 0) { hash = h; return (int)i + 4; }
        }

        for (; i < length; i++)
        {
            h = (h << 1) + Unsafe.Add(ref table, Unsafe.Add(ref start, i));
            if ((h & mask) == 0) { hash = h; return (int)i + 1; }
        }

        hash = h;
        return -1;
    }
}
