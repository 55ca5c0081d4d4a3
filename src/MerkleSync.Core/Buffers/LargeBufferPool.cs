using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace MerkleSync.Core.Buffers;

/// <summary>
/// Blocks of one size in <see cref="LargeBuffer"/>s, reused: a block filled once is refilled without
/// a page fault. Blocks of a huge page or more are buffers of their own, and the pool keeps
/// <paramref name="maxKept"/> of them (it unmaps the others); smaller ones are carved from shared
/// huge pages, and every one is kept, so such a pool holds what its users held at most at once (each
/// bounds that). Rented on one thread and returned on another alike; the pool lives as long as the process.
/// </summary>
public sealed class LargeBufferPool(int blockBytes, int maxKept = int.MaxValue)
{
    private readonly ConcurrentBag<Memory<byte>> _free = [];
    private readonly Lock _carving = new();

    public int BlockBytes => blockBytes;

    public Memory<byte> Rent()
    {
        if (_free.TryTake(out var block))
        {
            return block;
        }

        if (blockBytes >= LargeBuffer.HugePageBytes)
        {
            return new LargeBuffer(blockBytes).Memory;
        }

        lock (_carving)
        {
            if (_free.TryTake(out block))
            {
                return block;
            }

            int count = LargeBuffer.HugePageBytes / blockBytes;
            var page = new LargeBuffer(count * blockBytes).Memory; // never unmapped: its blocks are the pool's
            for (int i = 1; i < count; i++)
            {
                _free.Add(page.Slice(i * blockBytes, blockBytes));
            }

            return page[..blockBytes];
        }
    }

    public void Return(Memory<byte> block)
    {
        if (block.Length != blockBytes)
        {
            throw new ArgumentException($"A block of this pool has {blockBytes} bytes, not {block.Length}.", nameof(block));
        }

        if (blockBytes >= LargeBuffer.HugePageBytes && _free.Count >= maxKept && MemoryMarshal.TryGetMemoryManager<byte, LargeBuffer>(block, out var buffer))
        {
            buffer.Dispose();
            return;
        }

        _free.Add(block);
    }
}
