using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// BLAKE3 (32-byte output) of an input of at most one chunk (1 KiB): one compression per 64-byte
/// block on the stack. Paths, tree boundaries and Xet's small Merkle nodes are this size; through
/// the Blake3 package each cost ~300 ns, two thirds of it setting up and returning the hasher's
/// pooled buffers, where the compressions themselves take ~100.
/// </summary>
internal static class Blake3OneChunk
{
    public const int MaxLength = Blake3Wide.ChunkLength;

    private const int BlockLength = 64;
    private const uint ChunkStart = 1, ChunkEnd = 2, Parent = 4, Root = 8;

    /// <summary>Writes keyed BLAKE3 of <paramref name="input"/> (at most <see cref="MaxLength"/> bytes) to <paramref name="output"/> (32 bytes).</summary>
    public static void KeyedHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output) => Hash(key, Blake3Wide.Keyed, input, output);

    /// <summary>
    /// Writes BLAKE3 of <paramref name="input"/> (at most <see cref="MaxLength"/> bytes) to
    /// <paramref name="output"/> (32 bytes), with <paramref name="key"/> (32 bytes) as the key words
    /// and <paramref name="mode"/> (<see cref="Blake3Wide.Keyed"/>, <see cref="Blake3Wide.DeriveKeyMaterial"/>) in the flags.
    /// </summary>
    [SkipLocalsInit]
    public static void Hash(ReadOnlySpan<byte> key, uint mode, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Span<uint> keyWords = stackalloc uint[8];
        ReadKey(key, keyWords);
        Compute(keyWords, mode, input, output);
    }

    /// <summary>Plain (unkeyed) BLAKE3 of <paramref name="input"/> (at most <see cref="MaxLength"/> bytes).</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input)
    {
        byte[] output = new byte[32];
        Compute(Blake3Wide.IV, 0, input, output);
        return output;
    }

    /// <summary>The key that BLAKE3's derive-key mode hashes key material with under <paramref name="context"/>.</summary>
    public static byte[] ContextKey(string context)
    {
        byte[] output = new byte[32];
        Compute(Blake3Wide.IV, Blake3Wide.DeriveKeyContext, System.Text.Encoding.UTF8.GetBytes(context), output);
        return output;
    }

    /// <summary>
    /// Writes the chaining value of the parent of two children (<paramref name="children"/>: the
    /// left's eight words, then the right's) to <paramref name="output"/>, or with
    /// <paramref name="root"/> the first 32 bytes of the root's output, as eight words: one
    /// compression of one 64-byte block, as for a one-block chunk.
    /// </summary>
    public static void ParentValue(ReadOnlySpan<byte> key, uint mode, ReadOnlySpan<uint> children, bool root, Span<uint> output)
    {
        if (children.Length != 16 || output.Length < 8)
        {
            throw new ArgumentException("A parent takes two chaining values and gives one.");
        }

        ReadKey(key, output);
        Compress(output, children, BlockLength, mode | Parent | (root ? Root : 0));
    }

    // The key's eight little-endian words, which start every chunk's and parent's compression.
    private static void ReadKey(ReadOnlySpan<byte> key, Span<uint> words)
    {
        if (key.Length != 32)
        {
            throw new ArgumentException("Blake3OneChunk takes a 32-byte key.");
        }

        for (int i = 0; i < 8; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(4 * i)..]);
        }
    }

    [SkipLocalsInit]
    private static void Compute(ReadOnlySpan<uint> keyWords, uint mode, ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (input.Length > MaxLength || output.Length < 32)
        {
            throw new ArgumentException("Blake3OneChunk hashes at most one chunk of input into 32 bytes.");
        }

        Span<uint> cv = stackalloc uint[8];
        keyWords.CopyTo(cv);

        Span<byte> block = stackalloc byte[BlockLength];
        Span<uint> words = stackalloc uint[16];
        int blocks = Math.Max(1, (input.Length + BlockLength - 1) / BlockLength);
        for (int b = 0; b < blocks; b++)
        {
            var bytes = input[(b * BlockLength)..Math.Min(input.Length, (b + 1) * BlockLength)];
            block.Clear();
            bytes.CopyTo(block);
            for (int i = 0; i < 16; i++)
            {
                words[i] = BinaryPrimitives.ReadUInt32LittleEndian(block[(4 * i)..]);
            }

            uint flags = mode | (b == 0 ? ChunkStart : 0) | (b == blocks - 1 ? ChunkEnd | Root : 0);
            Compress(cv, words, (uint)bytes.Length, flags);
        }

        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output[(4 * i)..], cv[i]);
        }
    }

    // BLAKE3's compression with a chunk counter of 0; the new chaining value (and, for the root, the
    // first 32 bytes of output) replaces cv. The message words live in locals, permuted between
    // rounds as the reference implementation does (no table lookups, no bounds checks).
    private static void Compress(Span<uint> cv, ReadOnlySpan<uint> m, uint blockLength, uint flags)
    {
        var iv = Blake3Wide.IV;
        uint v0 = cv[0], v1 = cv[1], v2 = cv[2], v3 = cv[3], v4 = cv[4], v5 = cv[5], v6 = cv[6], v7 = cv[7];
        uint v8 = iv[0], v9 = iv[1], v10 = iv[2], v11 = iv[3], v12 = 0, v13 = 0, v14 = blockLength, v15 = flags;
        uint m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7];
        uint m8 = m[8], m9 = m[9], m10 = m[10], m11 = m[11], m12 = m[12], m13 = m[13], m14 = m[14], m15 = m[15];
        for (int round = 0; ; round++)
        {
            G(ref v0, ref v4, ref v8, ref v12, m0, m1);
            G(ref v1, ref v5, ref v9, ref v13, m2, m3);
            G(ref v2, ref v6, ref v10, ref v14, m4, m5);
            G(ref v3, ref v7, ref v11, ref v15, m6, m7);
            G(ref v0, ref v5, ref v10, ref v15, m8, m9);
            G(ref v1, ref v6, ref v11, ref v12, m10, m11);
            G(ref v2, ref v7, ref v8, ref v13, m12, m13);
            G(ref v3, ref v4, ref v9, ref v14, m14, m15);
            if (round == 6)
            {
                break;
            }

            // BLAKE3's message permutation: word i of the next round is word [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8][i] of this one.
            (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15) =
                (m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8);
        }

        cv[0] = v0 ^ v8;
        cv[1] = v1 ^ v9;
        cv[2] = v2 ^ v10;
        cv[3] = v3 ^ v11;
        cv[4] = v4 ^ v12;
        cv[5] = v5 ^ v13;
        cv[6] = v6 ^ v14;
        cv[7] = v7 ^ v15;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void G(ref uint a, ref uint b, ref uint c, ref uint d, uint x, uint y)
    {
        a += b + x;
        d = BitOperations.RotateRight(d ^ a, 16);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 12);
        a += b + y;
        d = BitOperations.RotateRight(d ^ a, 8);
        c += d;
        b = BitOperations.RotateRight(b ^ c, 7);
    }
}
