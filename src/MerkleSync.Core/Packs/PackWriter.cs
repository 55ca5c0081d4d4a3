using System.Buffers;
using System.Buffers.Binary;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Packs;

/// <summary>What a finished pack holds.</summary>
public sealed record PackSummary(Hash PackId, long Length, IReadOnlyList<PackEntry> Entries)
{
    public long RawBytes => Entries.Sum(e => (long)e.RawLength);
}

/// <summary>
/// Writes one pack to a stream, streaming: chunks go out as they come, each behind its frame
/// header, and only the index (57 bytes a chunk) is kept in memory. Like restic's packer it remembers
/// its first failure and refuses further use.
/// </summary>
public sealed class PackWriter
{
    private readonly Stream _destination;
    private readonly List<PackEntry> _entries = [];
    private readonly HashSet<Hash> _hashes = [];
    private readonly byte[] _frame = new byte[PackFormat.FrameHeaderLength]; // written and awaited before the next chunk
    private long _length;
    private Exception? _failure;
    private bool _finished;

    public PackWriter(Stream destination)
    {
        _destination = destination;
    }

    /// <summary>Bytes written so far (header and framed chunks).</summary>
    public long Length => _length == 0 ? PackFormat.HeaderLength : _length;

    public int Count => _entries.Count;

    public bool Contains(Hash chunkHash) => _hashes.Contains(chunkHash);

    /// <summary>Encodes (compressing when it pays) and appends a chunk.</summary>
    public ValueTask AddAsync(Hash chunkHash, ReadOnlySpan<byte> raw, CancellationToken cancellationToken)
    {
        byte[] stored = ArrayPool<byte>.Shared.Rent(raw.Length);
        var (codec, length) = ChunkCodec.Encode(raw, stored);
        return AddEncodedAndReturnAsync(chunkHash, raw.Length, codec, stored, length, cancellationToken);
    }

    /// <summary>
    /// Appends a chunk already encoded (e.g. copied from another pack, or encoded on another thread)
    /// whose stored bytes have the CRC-32C <paramref name="crc32C"/>: encoders compute it while the
    /// bytes are still in their core's cache.
    /// </summary>
    public async ValueTask AddEncodedAsync(Hash chunkHash, int rawLength, Codec codec, ReadOnlyMemory<byte> stored, uint crc32C, CancellationToken cancellationToken)
    {
        ThrowIfUnusable();
        if (!_hashes.Add(chunkHash))
        {
            return; // already in this pack
        }

        try
        {
            if (_length == 0)
            {
                await WriteAsync(PackFormat.HeaderMagic.ToArray(), cancellationToken).ConfigureAwait(false);
            }

            PackFormat.WriteFrameHeader(_frame, codec, stored.Length, rawLength);
            await WriteAsync(_frame, cancellationToken).ConfigureAwait(false);
            var entry = new PackEntry(chunkHash, _length, stored.Length, rawLength, codec, crc32C);
            await WriteAsync(stored, cancellationToken).ConfigureAwait(false);
            _entries.Add(entry);
        }
        catch (Exception e)
        {
            _failure = e;
            throw;
        }
    }

    /// <summary>Writes the index and trailer; returns the pack id and entries. The stream is left open.</summary>
    public async ValueTask<PackSummary> FinishAsync(CancellationToken cancellationToken)
    {
        ThrowIfUnusable();
        try
        {
            if (_length == 0)
            {
                await WriteAsync(PackFormat.HeaderMagic.ToArray(), cancellationToken).ConfigureAwait(false);
            }

            await WriteAsync(new byte[PackFormat.FrameHeaderLength], cancellationToken).ConfigureAwait(false); // the end frame
            byte[] index = PackFormat.EncodeIndex(_entries);
            byte[] trailer = new byte[PackFormat.TrailerLength];
            BinaryPrimitives.WriteInt32LittleEndian(trailer, index.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), Crc32C.Compute(index));
            PackFormat.TrailerMagic.CopyTo(trailer.AsSpan(8));
            await WriteAsync(index, cancellationToken).ConfigureAwait(false);
            await WriteAsync(trailer, cancellationToken).ConfigureAwait(false);
            await _destination.FlushAsync(cancellationToken).ConfigureAwait(false);

            _finished = true;
            return new PackSummary(PackFormat.PackId(index), _length, [.. _entries]);
        }
        catch (Exception e)
        {
            _failure = e;
            throw;
        }
    }

    private async ValueTask AddEncodedAndReturnAsync(Hash chunkHash, int rawLength, Codec codec, byte[] stored, int length, CancellationToken cancellationToken)
    {
        try
        {
            await AddEncodedAsync(chunkHash, rawLength, codec, stored.AsMemory(0, length), Crc32C.Compute(stored.AsSpan(0, length)), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _destination.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        _length += bytes.Length;
    }

    private void ThrowIfUnusable()
    {
        if (_failure is not null)
        {
            throw new InvalidOperationException("This pack writer failed earlier and cannot be used.", _failure);
        }

        ObjectDisposedException.ThrowIf(_finished, this);
    }
}
