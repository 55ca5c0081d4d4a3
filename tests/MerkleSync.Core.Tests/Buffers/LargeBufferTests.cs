using System.Runtime.InteropServices;
using MerkleSync.Core.Buffers;

namespace MerkleSync.Core.Tests.Buffers;

public class LargeBufferTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData((2 << 20) + 1)]
    public void A_buffer_holds_what_is_written_to_every_byte_and_starts_aligned_for_direct_io(int length)
    {
        using var buffer = new LargeBuffer(length);
        var span = buffer.Memory.Span;
        Assert.Equal(length, span.Length);
        for (int i = 0; i < length; i++)
        {
            span[i] = (byte)(i * 7);
        }

        for (int i = 0; i < length; i++)
        {
            Assert.Equal((byte)(i * 7), span[i]);
        }

        using var pinned = buffer.Memory.Pin();
        unsafe
        {
            Assert.Equal(0L, (long)pinned.Pointer % (OperatingSystem.IsLinux() ? 2 << 20 : 4096));
        }
    }

    [Fact]
    public void A_disposed_buffer_refuses_to_be_used()
    {
        var buffer = new LargeBuffer(4096);
        var memory = buffer.Memory;
        buffer.Dispose();
        buffer.Dispose(); // twice is harmless

        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
    }

    [Fact]
    public void Small_blocks_are_carved_apart_and_come_back_for_reuse()
    {
        var pool = new LargeBufferPool(1 << 20);
        var first = pool.Rent();
        var second = pool.Rent();
        first.Span.Fill(1);
        second.Span.Fill(2);

        Assert.Equal(1 << 20, first.Length);
        Assert.True(first.Span.IndexOfAnyExcept((byte)1) < 0, "the blocks overlap");
        pool.Return(first);
        pool.Return(second);
        var again = new[] { pool.Rent(), pool.Rent() };
        Assert.Contains(again, b => b.Span.Overlaps(first.Span));
        Assert.Contains(again, b => b.Span.Overlaps(second.Span));
    }

    [Fact]
    public void Whole_buffer_blocks_beyond_those_kept_are_unmapped_when_returned()
    {
        var pool = new LargeBufferPool(2 << 20, maxKept: 1);
        var kept = pool.Rent();
        var dropped = pool.Rent();
        pool.Return(kept);
        pool.Return(dropped);

        Assert.Throws<ObjectDisposedException>(() => dropped.Span.Length);
        Assert.True(pool.Rent().Span.Overlaps(kept.Span));
    }

    [Fact]
    public void A_block_of_another_size_is_refused()
    {
        var pool = new LargeBufferPool(1 << 20);
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[4096]));
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, LargeBuffer>(pool.Rent(), out _));
    }
}
