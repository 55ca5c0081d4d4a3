using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace MerkleSync.Server.Hosting;

/// <summary>
/// Kestrel's connection buffers in 64 KiB blocks instead of its default 4 KiB. Kestrel receives
/// into one pool block at a time, so with 4 KiB blocks an upload of 1 GiB took about 480 000
/// <c>recv</c> calls (half of them the zero-byte waits Kestrel does before taking a buffer); with
/// 64 KiB blocks a call takes whatever the socket holds, up to 16 times as much.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
}

/// <summary>
/// A pool of pinned (the socket layer pins receive buffers; these never move) 64 KiB blocks.
/// Keeps at most <see cref="MaxRetained"/> free blocks; an idle connection holds none, because
/// Kestrel waits for data before it takes a block.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>16 MiB of free blocks: plenty for the handful of upload and download lanes of a few clients.</summary>
    private const int MaxRetained = 256;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
        }
        else
        {
            block = new Block(this);
        }

        block.Leased = 1;
        return block;
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _freeCount) <= MaxRetained)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    private sealed class Block(LargeBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        /// <summary>1 while rented: a second Dispose must not hand the same block out twice.</summary>
        public int Leased;

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref Leased, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}
