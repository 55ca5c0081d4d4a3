using System.Buffers.Binary;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// BLAKE3 in derive-key mode over input that arrives in pieces, computed with this project's own
/// compressions (<see cref="Blake3Wide"/>, <see cref="Blake3OneChunk"/>) rather than the Blake3
/// package's hasher: the package's vector code is compiled at run time here (the ahead-of-time image
/// cannot hold it for this machine), ~40 ms at the start of every push that first used it. Without
/// AVX-512 it is the package's hasher. Finalize once.
/// </summary>
internal sealed class Blake3Incremental : IDisposable
{
    // Sixteen chunks: one pass of the lanes. A full batch is merged only once more input follows,
    // so the last chunk is always still here when Finalize decides which compression is the root.
    private const int BatchLength = 16 * Blake3Wide.ChunkLength;
    private const uint Mode = Blake3Wide.DeriveKeyMaterial;

    private readonly byte[] _key = [];
    private readonly Blake3.Hasher? _package;
    private readonly byte[] _pending = [];
    private int _pendingLength;

    // Chaining values of the complete subtrees left of the pending input, largest first: one per
    // set bit of _chunks, the count of chunks merged so far (at most 54 below 2^54 chunks).
    private readonly uint[] _stack = [];
    private int _depth;
    private long _chunks;

    private Blake3Incremental(byte[] key)
    {
        _key = key;
        _pending = new byte[BatchLength];
        _stack = new uint[54 * 8];
    }

    private Blake3Incremental(Blake3.Hasher package) => _package = package;

    public static Blake3Incremental NewDeriveKey(string context) =>
        Blake3Wide.IsSupported ? new(Blake3OneChunk.ContextKey(context)) : new(Blake3.Hasher.NewDeriveKey(context));

    public void Update(ReadOnlySpan<byte> data)
    {
        if (_package is { } package)
        {
            package.Update(data);
            return;
        }

        while (!data.IsEmpty)
        {
            if (_pendingLength == BatchLength)
            {
                MergeBatch();
            }

            int take = Math.Min(BatchLength - _pendingLength, data.Length);
            data[..take].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += take;
            data = data[take..];
        }
    }

    /// <summary>Writes the 32-byte hash of everything updated so far to <paramref name="output"/>.</summary>
    public void Finalize(Span<byte> output)
    {
        if (_package is { } package)
        {
            package.Finalize(output);
            return;
        }

        var pending = _pending.AsSpan(0, _pendingLength);
        if (_chunks == 0)
        {
            // Nothing merged yet: the input is all here, hashed whole as the one-shot functions do.
            if (pending.Length <= Blake3OneChunk.MaxLength)
            {
                Blake3OneChunk.Hash(_key, Mode, pending, output);
            }
            else
            {
                Blake3Wide.Hash(_key, Mode, pending, output);
            }

            return;
        }

        // The pending chunks but the last join the stack; the last climbs it, the top compression being the root.
        int count = (pending.Length + Blake3Wide.ChunkLength - 1) / Blake3Wide.ChunkLength;
        Span<uint> values = stackalloc uint[16 * 8];
        Blake3Wide.ChunkValues(_key, Mode, pending, _chunks, values);
        for (int c = 0; c < count - 1; c++)
        {
            Push(values.Slice(c * 8, 8));
        }

        Span<uint> cv = values.Slice((count - 1) * 8, 8);
        for (int d = _depth - 1; d >= 0; d--)
        {
            JoinLeft(d, cv, root: d == 0);
        }

        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output[(4 * i)..], cv[i]);
        }
    }

    public void Dispose() => _package?.Dispose();

    private void MergeBatch()
    {
        Span<uint> values = stackalloc uint[16 * 8];
        Blake3Wide.ChunkValues(_key, Mode, _pending, _chunks, values);
        for (int c = 0; c < 16; c++)
        {
            Push(values.Slice(c * 8, 8));
        }

        _pendingLength = 0;
    }

    // BLAKE3's merge: the new chunk's value joins, as a right child, each complete subtree of its
    // own size at the top of the stack (one per trailing zero bit of the new chunk count).
    private void Push(ReadOnlySpan<uint> chunkValue)
    {
        Span<uint> cv = stackalloc uint[8];
        chunkValue.CopyTo(cv);
        _chunks++;
        for (long total = _chunks; (total & 1) == 0; total >>= 1)
        {
            _depth--;
            JoinLeft(_depth, cv, root: false);
        }

        cv.CopyTo(_stack.AsSpan(_depth * 8, 8));
        _depth++;
    }

    // cv becomes the parent of the stack's value at depth d (the left child) and cv (the right).
    private void JoinLeft(int d, Span<uint> cv, bool root)
    {
        Span<uint> children = stackalloc uint[16];
        _stack.AsSpan(d * 8, 8).CopyTo(children);
        cv.CopyTo(children[8..]);
        Blake3OneChunk.ParentValue(_key, Mode, children, root, cv);
    }
}
