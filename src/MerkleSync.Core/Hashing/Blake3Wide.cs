using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// BLAKE3 (32-byte output) of an input longer than one chunk, sixteen compressions at a time with
/// AVX-512: the chunks in passes of sixteen, a partial last chunk as one more lane, then each level
/// of parent nodes likewise, up to the root. The Blake3 package also hashes sixteen chunks at once,
/// but a Xet chunk (8-128 KiB) leaves it up to fifteen chunks and the parents, which it compresses
/// one block at a time: that path was the largest part of its time in a push profile. Its leaves
/// (<see cref="ChunkValues"/>) also serve <see cref="Blake3Incremental"/>.
/// </summary>
internal static unsafe class Blake3Wide
{
    public const int ChunkLength = 1024;

    /// <summary>Mode flags: keyed hashing; derive-key mode hashing its context string, then key material under the context's key.</summary>
    public const uint Keyed = 16, DeriveKeyContext = 32, DeriveKeyMaterial = 64;

    private const int BlockLength = 64;
    private const int Lanes = 16;
    private const uint ChunkStart = 1;
    private const uint ChunkEnd = 2;
    private const uint Parent = 4;
    private const uint Root = 8;

    /// <summary>
    /// How far ahead of the block being loaded each lane's row is prefetched. The sixteen rows are sixteen
    /// streams 1 KiB apart, four to a page, which the hardware prefetcher follows poorly: on input not in
    /// the cache, two blocks ahead hashed 20-30% faster in a micro-benchmark; on cached input it costs nothing.
    /// </summary>
    private const int PrefetchDistance = 2 * BlockLength;

    /// <summary>Chaining values held on the stack; a longer input (over 256 KiB) rents them.</summary>
    private const int StackChunks = 256;

    public static bool IsSupported => Avx512F.IsSupported;

    internal static ReadOnlySpan<uint> IV => [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];

    /// <summary>The message words each round takes, in order: round 0 as given, each next one permuted by BLAKE3's fixed permutation.</summary>
    private static ReadOnlySpan<byte> Schedule =>
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8,
        3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1,
        10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6,
        12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4,
        9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7,
        11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13,
    ];

    /// <summary>Writes keyed BLAKE3 of <paramref name="input"/> (longer than <see cref="ChunkLength"/>) to <paramref name="output"/> (32 bytes).</summary>
    public static void KeyedHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output) => Hash(key, Keyed, input, output);

    /// <summary>
    /// Writes BLAKE3 of <paramref name="input"/> (longer than <see cref="ChunkLength"/>) to
    /// <paramref name="output"/> (32 bytes), with <paramref name="key"/> as the key words and
    /// <paramref name="mode"/> (<see cref="Keyed"/>, <see cref="DeriveKeyMaterial"/>, ...) in every compression's flags.
    /// </summary>
    [SkipLocalsInit]
    public static void Hash(ReadOnlySpan<byte> key, uint mode, ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (input.Length <= ChunkLength || output.Length < 32)
        {
            throw new ArgumentException("Blake3Wide hashes more than one chunk of input into 32 bytes.");
        }

        int chunks = (input.Length + ChunkLength - 1) / ChunkLength;
        uint[]? rented = chunks > StackChunks ? ArrayPool<uint>.Shared.Rent(chunks * 8) : null;
        Span<uint> cvSpace = rented ?? stackalloc uint[StackChunks * 8];
        var keyWords = stackalloc Vector512<uint>[8];
        LoadKey(key, keyWords);
        byte** rows = stackalloc byte*[Lanes];
        try
        {
            fixed (uint* cvs = cvSpace)
            {
                Leaves(input, keyWords, mode, 0, cvs);

                // Parents, level by level: pair i's two chaining values lie together as one block; an odd one out moves up as it is.
                for (int n = chunks; n > 1;)
                {
                    int pairs = n / 2;
                    uint flags = n == 2 ? mode | Parent | Root : mode | Parent;
                    for (int first = 0; first < pairs; first += Lanes)
                    {
                        int count = Math.Min(Lanes, pairs - first);
                        for (int l = 0; l < Lanes; l++)
                        {
                            rows[l] = (byte*)(cvs + ((first + Math.Min(l, count - 1)) * 16));
                        }

                        CompressLanes(rows, 1, keyWords, Vector512<uint>.Zero, Vector512<uint>.Zero, Vector512.Create((uint)BlockLength), 0, 0, flags, cvs + (first * 8), count);
                    }

                    if ((n & 1) == 1)
                    {
                        new Span<uint>(cvs + ((n - 1) * 8), 8).CopyTo(new Span<uint>(cvs + (pairs * 8), 8));
                    }

                    n = pairs + (n & 1);
                }

                for (int i = 0; i < 8; i++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(output[(4 * i)..], cvs[i]);
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<uint>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Writes the chaining values (eight words each, none a root's) of the chunks of
    /// <paramref name="input"/> to <paramref name="cvs"/>: the last chunk may be partial, and the
    /// first is chunk number <paramref name="firstChunk"/> of the whole input (below 2^32).
    /// </summary>
    [SkipLocalsInit]
    public static void ChunkValues(ReadOnlySpan<byte> key, uint mode, ReadOnlySpan<byte> input, long firstChunk, Span<uint> cvs)
    {
        int chunks = (input.Length + ChunkLength - 1) / ChunkLength;
        if (input.IsEmpty || cvs.Length < chunks * 8 || firstChunk < 0 || firstChunk + chunks > uint.MaxValue)
        {
            throw new ArgumentException("ChunkValues takes at least one byte, room for eight words a chunk and chunk numbers below 2^32.");
        }

        var keyWords = stackalloc Vector512<uint>[8];
        LoadKey(key, keyWords);
        fixed (uint* output = cvs)
        {
            Leaves(input, keyWords, mode, (uint)firstChunk, output);
        }
    }

    private static void LoadKey(ReadOnlySpan<byte> key, Vector512<uint>* keyWords)
    {
        if (!IsSupported || key.Length != 32)
        {
            throw new ArgumentException("Blake3Wide takes a 32-byte key and AVX-512.");
        }

        for (int i = 0; i < 8; i++)
        {
            keyWords[i] = Vector512.Create(BinaryPrimitives.ReadUInt32LittleEndian(key[(4 * i)..]));
        }
    }

    // The chaining values of input's chunks, numbered from firstChunk, in passes of sixteen lanes:
    // lane l of a pass hashes chunk first + l; the last chunk, if partial, from a zero-padded copy.
    [SkipLocalsInit]
    private static void Leaves(ReadOnlySpan<byte> input, Vector512<uint>* keyWords, uint mode, uint firstChunk, uint* cvs)
    {
        int chunks = (input.Length + ChunkLength - 1) / ChunkLength;
        byte* lastChunk = stackalloc byte[ChunkLength];
        byte** rows = stackalloc byte*[Lanes];
        uint* lastBlock = stackalloc uint[Lanes];
        uint* lastLength = stackalloc uint[Lanes];
        fixed (byte* data = input)
        {
            int tail = input.Length - ((chunks - 1) * ChunkLength);
            input[^tail..].CopyTo(new Span<byte>(lastChunk, ChunkLength));
            new Span<byte>(lastChunk + tail, ChunkLength - tail).Clear();
            for (int first = 0; first < chunks; first += Lanes)
            {
                int count = Math.Min(Lanes, chunks - first);
                for (int l = 0; l < Lanes; l++)
                {
                    bool last = first + l == chunks - 1;
                    int length = last ? tail : ChunkLength;
                    rows[l] = l >= count || last ? lastChunk : data + ((long)(first + l) * ChunkLength);
                    lastBlock[l] = (uint)((length - 1) / BlockLength);
                    lastLength[l] = (uint)(length - ((int)lastBlock[l] * BlockLength));
                }

                int blocks = (int)(count == 1 ? lastBlock[0] + 1 : ChunkLength / BlockLength);
                var counter = Vector512.Create(firstChunk + (uint)first) + Vector512<uint>.Indices;
                CompressLanes(rows, blocks, keyWords, counter, Vector512.Load(lastBlock), Vector512.Load(lastLength), ChunkStart, ChunkEnd, mode, cvs + (first * 8), count);
            }
        }
    }

    /// <summary>
    /// Compresses <paramref name="blocks"/> successive blocks in sixteen lanes, lane l reading block j at
    /// <c>rows[l] + 64 j</c>, and writes the chaining values of the first <paramref name="count"/> lanes
    /// (eight words each) to <paramref name="output"/>. A lane ends at its <paramref name="lastBlock"/>
    /// (which gets <paramref name="endFlag"/> and its <paramref name="lastLength"/>); its value then stays.
    /// All rows are read before any output is written, so the output may overlap them from below.
    /// </summary>
    [SkipLocalsInit]
    private static void CompressLanes(
        byte** rows, int blocks, Vector512<uint>* key, Vector512<uint> counter, Vector512<uint> lastBlock, Vector512<uint> lastLength,
        uint startFlag, uint endFlag, uint flags, uint* output, int count)
    {
        var h = stackalloc Vector512<uint>[8];
        var m = stackalloc Vector512<uint>[16];
        var scratch = stackalloc Vector512<uint>[2 * Lanes];
        for (int i = 0; i < 8; i++)
        {
            h[i] = key[i];
        }

        fixed (byte* schedule = Schedule)
        {
            for (int j = 0; j < blocks; j++)
            {
                var index = Vector512.Create((uint)j);
                var isLast = Vector512.Equals(index, lastBlock);
                var active = Vector512.LessThanOrEqual(index, lastBlock);
                var blockFlags = Vector512.Create(flags | (j == 0 ? startFlag : 0)) | (isLast & Vector512.Create(endFlag));
                var blockLength = Vector512.ConditionalSelect(isLast, lastLength, Vector512.Create((uint)BlockLength));
                LoadTransposed(rows, j * BlockLength, m, scratch);

                Vector512<uint> v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
                Vector512<uint> v8 = Vector512.Create(IV[0]), v9 = Vector512.Create(IV[1]), v10 = Vector512.Create(IV[2]), v11 = Vector512.Create(IV[3]);
                Vector512<uint> v12 = counter, v13 = Vector512<uint>.Zero, v14 = blockLength, v15 = blockFlags;
                for (int r = 0; r < 7; r++)
                {
                    byte* s = schedule + (r * 16);
                    G(ref v0, ref v4, ref v8, ref v12, m[s[0]], m[s[1]]);
                    G(ref v1, ref v5, ref v9, ref v13, m[s[2]], m[s[3]]);
                    G(ref v2, ref v6, ref v10, ref v14, m[s[4]], m[s[5]]);
                    G(ref v3, ref v7, ref v11, ref v15, m[s[6]], m[s[7]]);
                    G(ref v0, ref v5, ref v10, ref v15, m[s[8]], m[s[9]]);
                    G(ref v1, ref v6, ref v11, ref v12, m[s[10]], m[s[11]]);
                    G(ref v2, ref v7, ref v8, ref v13, m[s[12]], m[s[13]]);
                    G(ref v3, ref v4, ref v9, ref v14, m[s[14]], m[s[15]]);
                }

                h[0] = Vector512.ConditionalSelect(active, v0 ^ v8, h[0]);
                h[1] = Vector512.ConditionalSelect(active, v1 ^ v9, h[1]);
                h[2] = Vector512.ConditionalSelect(active, v2 ^ v10, h[2]);
                h[3] = Vector512.ConditionalSelect(active, v3 ^ v11, h[3]);
                h[4] = Vector512.ConditionalSelect(active, v4 ^ v12, h[4]);
                h[5] = Vector512.ConditionalSelect(active, v5 ^ v13, h[5]);
                h[6] = Vector512.ConditionalSelect(active, v6 ^ v14, h[6]);
                h[7] = Vector512.ConditionalSelect(active, v7 ^ v15, h[7]);
            }
        }

        // Word i of every lane lies in h[i]; lane l's chaining value goes to output[8 l .. 8 l + 8).
        uint* words = (uint*)h;
        for (int l = 0; l < count; l++)
        {
            for (int i = 0; i < 8; i++)
            {
                output[(l * 8) + i] = words[(i * Lanes) + l];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref Vector512<uint> a, ref Vector512<uint> b, ref Vector512<uint> c, ref Vector512<uint> d, Vector512<uint> x, Vector512<uint> y)
    {
        a += b + x;
        d = Avx512F.RotateRight(d ^ a, 16);
        c += d;
        b = Avx512F.RotateRight(b ^ c, 12);
        a += b + y;
        d = Avx512F.RotateRight(d ^ a, 8);
        c += d;
        b = Avx512F.RotateRight(b ^ c, 7);
    }

    /// <summary>
    /// Loads one 64-byte block from each of the sixteen rows and transposes them: m[w] holds message
    /// word w of every lane. 32-bit, then 64-bit interleaves of row pairs, then two rounds of
    /// 128-bit lane shuffles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadTransposed(byte** rows, int offset, Vector512<uint>* m, Vector512<uint>* scratch)
    {
        var r = scratch;
        for (int l = 0; l < Lanes; l++)
        {
            r[l] = Vector512.Load((uint*)(rows[l] + offset));
            Sse.Prefetch0(rows[l] + offset + PrefetchDistance);
        }

        // After these, quad[4 q + t] holds, in its 128-bit lane k, word 4 k + t of rows 4 q .. 4 q + 3.
        var quad = scratch + Lanes;
        for (int q = 0; q < 4; q++)
        {
            var abLow = Avx512F.UnpackLow(r[4 * q], r[(4 * q) + 1]).AsUInt64();
            var abHigh = Avx512F.UnpackHigh(r[4 * q], r[(4 * q) + 1]).AsUInt64();
            var cdLow = Avx512F.UnpackLow(r[(4 * q) + 2], r[(4 * q) + 3]).AsUInt64();
            var cdHigh = Avx512F.UnpackHigh(r[(4 * q) + 2], r[(4 * q) + 3]).AsUInt64();
            quad[4 * q] = Avx512F.UnpackLow(abLow, cdLow).AsUInt32();
            quad[(4 * q) + 1] = Avx512F.UnpackHigh(abLow, cdLow).AsUInt32();
            quad[(4 * q) + 2] = Avx512F.UnpackLow(abHigh, cdHigh).AsUInt32();
            quad[(4 * q) + 3] = Avx512F.UnpackHigh(abHigh, cdHigh).AsUInt32();
        }

        for (int t = 0; t < 4; t++)
        {
            var evenLow = Avx512F.Shuffle4x128(quad[t], quad[4 + t], 0x88);
            var oddLow = Avx512F.Shuffle4x128(quad[t], quad[4 + t], 0xDD);
            var evenHigh = Avx512F.Shuffle4x128(quad[8 + t], quad[12 + t], 0x88);
            var oddHigh = Avx512F.Shuffle4x128(quad[8 + t], quad[12 + t], 0xDD);
            m[t] = Avx512F.Shuffle4x128(evenLow, evenHigh, 0x88);
            m[8 + t] = Avx512F.Shuffle4x128(evenLow, evenHigh, 0xDD);
            m[4 + t] = Avx512F.Shuffle4x128(oddLow, oddHigh, 0x88);
            m[12 + t] = Avx512F.Shuffle4x128(oddLow, oddHigh, 0xDD);
        }
    }
}
