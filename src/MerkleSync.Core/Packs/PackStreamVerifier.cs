using System.Buffers;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Packs;

/// <summary>
/// Verifies a pack while its bytes arrive, in pieces of any size: checks the header, then for each
/// frame decodes and hashes the chunk and records the entry its bytes prove, until the end frame.
/// The index and trailer that follow are not its business: the caller compares
/// <see cref="Entries"/> with the pack's index, and uses the entries only when they agree.
/// It holds at most one chunk's stored bytes, so a pack of any size costs ~256 KiB.
/// </summary>
public sealed class PackStreamVerifier : IDisposable
{
    private readonly List<PackEntry> _entries = [];
    private byte[]? _pending; // a header, frame header or chunk that arrived in more than one piece
    private byte[]? _scratch;
    private int _pendingLength;
    private long _unitStart; // pack offset of the header, frame header or chunk being read
    private bool _readHeader;
    private (Codec Codec, int StoredLength, int RawLength)? _frame; // set while reading a chunk

    /// <summary>Bytes seen so far.</summary>
    public long Position { get; private set; }

    /// <summary>The offset just after the end frame once it has been read (where the index starts).</summary>
    public long? DataEnd { get; private set; }

    /// <summary>Why the bytes cannot be a pack; once set, nothing more is read.</summary>
    public string? Problem { get; private set; }

    /// <summary>The entries proven so far, in pack order.</summary>
    public IReadOnlyList<PackEntry> Entries => _entries;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        Position += bytes.Length;
        while (!bytes.IsEmpty && DataEnd is null && Problem is null)
        {
            int need = !_readHeader ? PackFormat.HeaderLength : _frame?.StoredLength ?? PackFormat.FrameHeaderLength;
            if (_pendingLength == 0 && bytes.Length >= need)
            {
                Read(bytes[..need]);
                bytes = bytes[need..];
                continue;
            }

            _pending ??= ArrayPool<byte>.Shared.Rent(ChunkingParameters.MaximumChunkSize);
            int take = Math.Min(need - _pendingLength, bytes.Length);
            bytes[..take].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += take;
            bytes = bytes[take..];
            if (_pendingLength == need)
            {
                _pendingLength = 0;
                Read(_pending.AsSpan(0, need));
            }
        }
    }

    public void Dispose()
    {
        if (_pending is not null)
        {
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
        }

        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    // One whole unit: the pack header, a frame header or a chunk's stored bytes.
    private void Read(ReadOnlySpan<byte> unit)
    {
        try
        {
            if (!_readHeader)
            {
                if (!unit.SequenceEqual(PackFormat.HeaderMagic))
                {
                    throw new CorruptDataException("the pack header is wrong.");
                }

                _readHeader = true;
            }
            else if (_frame is not { } frame)
            {
                ReadFrameHeader(unit);
            }
            else
            {
                _scratch ??= ArrayPool<byte>.Shared.Rent(ChunkingParameters.MaximumChunkSize);
                uint crc = Crc32C.Compute(unit);
                var raw = ChunkCodec.Decode(frame.Codec, unit, frame.RawLength, _scratch);
                _entries.Add(new PackEntry(XetHashes.ChunkHash(raw), _unitStart, unit.Length, frame.RawLength, frame.Codec, crc));
                _frame = null;
            }
        }
        catch (CorruptDataException e)
        {
            Problem = $"at offset {_unitStart}: {e.Message}";
        }

        _unitStart += unit.Length;
    }

    private void ReadFrameHeader(ReadOnlySpan<byte> header)
    {
        var frame = PackFormat.ReadFrameHeader(header);
        if (frame.StoredLength == 0)
        {
            DataEnd = _unitStart + header.Length;
        }
        else if (!PackFormat.IsPlausible(frame.Codec, frame.StoredLength, frame.RawLength) || _entries.Count == PackFormat.MaxEntries)
        {
            throw new CorruptDataException("a frame header describes no possible chunk.");
        }
        else
        {
            _frame = frame;
        }
    }
}
