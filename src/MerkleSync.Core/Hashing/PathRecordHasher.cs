using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Hashing;

/// <summary>
/// BLAKE3 in derive-key mode over a sequence of records, each a UTF-8 path, a zero byte and a part
/// of fixed length the caller writes. Records are gathered and hashed 64 KiB at a time: an update
/// per record costs more than hashing its bytes.
/// </summary>
internal sealed class PathRecordHasher(string context, int fixedPart) : IDisposable
{
    private readonly Blake3Incremental _hasher = Blake3Incremental.NewDeriveKey(context);
    private byte[] _buffer = new byte[64 * 1024];
    private int _used;

    /// <summary>Appends <paramref name="path"/> and a zero byte; returns the room for the record's fixed part.</summary>
    public Span<byte> Add(string path)
    {
        int most = DatasetPath.Utf8.GetMaxByteCount(path.Length) + 1 + fixedPart;
        if (_buffer.Length - _used < most)
        {
            _hasher.Update(_buffer.AsSpan(0, _used));
            _used = 0;
            if (_buffer.Length < most)
            {
                _buffer = new byte[most];
            }
        }

        _used += DatasetPath.Utf8.GetBytes(path, _buffer.AsSpan(_used));
        _buffer[_used++] = 0;
        var rest = _buffer.AsSpan(_used, fixedPart);
        _used += fixedPart;
        return rest;
    }

    public Hash Finish()
    {
        _hasher.Update(_buffer.AsSpan(0, _used));
        _used = 0;
        Span<byte> digest = stackalloc byte[Hash.Size];
        _hasher.Finalize(digest);
        return Hash.FromBytes(digest);
    }

    public void Dispose() => _hasher.Dispose();
}
