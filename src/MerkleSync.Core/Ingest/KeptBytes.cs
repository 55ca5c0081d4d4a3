using MerkleSync.Core.Buffers;

namespace MerkleSync.Core.Ingest;

/// <summary>
/// A small file's bytes as its hashing read them, kept for its upload: packing them from here
/// saves opening, reading, checking and closing the file a second time, which for files of a few
/// KiB costs more than the bytes themselves. They are the bytes that were hashed, so no change of
/// the file since can get into the pack. <see cref="Release"/> gives their room back to the budget.
/// </summary>
public sealed class KeptBytes
{
    private readonly KeptBytesBudget _budget;

    internal KeptBytes(KeptBytesBudget budget, KeptBytesBudget.Block block, int offset, int length)
    {
        _budget = budget;
        Block = block;
        Offset = offset;
        Length = length;
    }

    /// <summary>The file's size.</summary>
    public int Length { get; }

    internal KeptBytesBudget.Block Block { get; }

    internal int Offset { get; }

    /// <summary>Set once released; read and written under the budget's lock.</summary>
    internal bool Released { get; set; }

    /// <summary>
    /// Copies the file's bytes from <paramref name="start"/> into all of <paramref name="destination"/>;
    /// false once they are released (the upload then reads the file).
    /// </summary>
    public bool TryCopyTo(int start, Span<byte> destination) => _budget.TryCopy(this, start, destination);

    public void Release() => _budget.Release(this);

    /// <summary>Releases what <paramref name="files"/> still keep (packed files released theirs already).</summary>
    public static void ReleaseAll(IEnumerable<SnapshotFile> files)
    {
        foreach (var file in files)
        {
            file.Kept?.Release();
        }
    }
}

/// <summary>
/// How many bytes of small files a push keeps between hashing and packing at most, and where: in
/// blocks of a huge page outside the managed heap. As managed arrays they lived from hashing until
/// their group was packed, long enough to be promoted to the oldest generation and die there, and a
/// push of 4 GiB that kept its 16 MiB peaked ~30 MiB above one that kept nothing (the GC's heap
/// grew twice what it held; docs/benchmarks.md, the forty-seventh session). A block returns to its
/// pool once every file in it is released; files are packed in about the order they were hashed,
/// so blocks empty whole. Disposing the budget frees every block, released or not.
/// </summary>
public sealed class KeptBytesBudget : IDisposable
{
    /// <summary>Larger files are read again: their calls cost little next to their bytes.</summary>
    public const int MaxFileBytes = 64 << 10;

    private const int BlockBytes = LargeBuffer.HugePageBytes;

    /// <summary>Blocks of all pushes in this process: 16 MiB, one push's budget, stay mapped for the next.</summary>
    private static readonly LargeBufferPool Blocks = new(BlockBytes, maxKept: 8);

    private readonly long _limit;
    private readonly int _maxBlocks;
    private readonly Lock _lock = new();
    private readonly List<Block> _blocks = [];
    private Block? _filling;
    private long _used;
    private bool _disposed;

    public KeptBytesBudget(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        _limit = limit;
        _maxBlocks = (int)Math.Min(int.MaxValue, (limit + BlockBytes - 1) / BlockBytes);
    }

    /// <summary>A copy of <paramref name="bytes"/> if the file is small and the budget has room, else null.</summary>
    public KeptBytes? TryKeep(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxFileBytes || bytes.IsEmpty)
        {
            return null;
        }

        // One lock for keeping, copying and releasing: each holds it for a copy of at most 64 KiB,
        // and no block can go back to the pool while its bytes are read.
        lock (_lock)
        {
            if (_disposed || _used + bytes.Length > _limit || TakeRoom(bytes.Length) is not { } block)
            {
                return null;
            }

            var kept = new KeptBytes(this, block, block.Used, bytes.Length);
            bytes.CopyTo(block.Memory.Span[block.Used..]);
            block.Used += bytes.Length;
            block.Live++;
            _used += bytes.Length;
            return kept;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var block in _blocks)
            {
                Blocks.Return(block.Memory);
            }

            _blocks.Clear();
            _filling = null;
        }
    }

    internal bool TryCopy(KeptBytes kept, int start, Span<byte> destination)
    {
        // The block holds other files' bytes on either side: never hand those out.
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)start, (uint)kept.Length, nameof(start));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(destination.Length, kept.Length - start, nameof(destination));
        lock (_lock)
        {
            if (kept.Released || _disposed)
            {
                return false;
            }

            kept.Block.Memory.Span.Slice(kept.Offset + start, destination.Length).CopyTo(destination);
            return true;
        }
    }

    internal void Release(KeptBytes kept)
    {
        lock (_lock)
        {
            if (kept.Released || _disposed)
            {
                return;
            }

            kept.Released = true;
            _used -= kept.Length;
            var block = kept.Block;
            if (--block.Live == 0 && block != _filling)
            {
                _blocks.Remove(block);
                Blocks.Return(block.Memory);
            }
        }
    }

    /// <summary>The block the next file goes into, or null when the last block allowed is full.</summary>
    private Block? TakeRoom(int length)
    {
        if (_filling is { } filling && BlockBytes - filling.Used >= length)
        {
            return filling;
        }

        if (_filling is { Live: 0 } empty)
        {
            empty.Used = 0; // every file in it was released: fill it again
            return empty;
        }

        if (_blocks.Count >= _maxBlocks)
        {
            return null;
        }

        // The full block goes back to the pool when its last file is released.
        _filling = new Block(Blocks.Rent());
        _blocks.Add(_filling);
        return _filling;
    }

    /// <summary>A block of kept files: filled from the start, never compacted. Guarded by the budget's lock.</summary>
    internal sealed class Block(Memory<byte> memory)
    {
        public Memory<byte> Memory { get; } = memory;

        public int Used { get; set; }

        /// <summary>Files in the block not yet released.</summary>
        public int Live { get; set; }
    }
}
