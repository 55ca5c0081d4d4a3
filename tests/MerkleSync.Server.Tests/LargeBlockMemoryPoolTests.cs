using System.Runtime.InteropServices;
using MerkleSync.Server.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace MerkleSync.Server.Tests;

public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Blocks_are_64_KiB_and_a_larger_request_is_refused()
    {
        using var pool = new LargeBlockMemoryPool();
        using var block = pool.Rent(100);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, block.Memory.Length);
        Assert.Equal(LargeBlockMemoryPool.BlockSize, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public void A_returned_block_is_reused_and_a_second_dispose_does_not_hand_it_out_twice()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent();
        byte[] array = ArrayOf(first);
        first.Dispose();
        first.Dispose();

        using var again = pool.Rent();
        using var other = pool.Rent();
        Assert.Same(array, ArrayOf(again));
        Assert.NotSame(array, ArrayOf(other));
    }

    [Fact]
    public async Task The_server_gives_Kestrel_the_large_block_pool()
    {
        await using var server = await TestServer.StartAsync();
        Assert.IsType<LargeBlockMemoryPoolFactory>(server.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
    }

    private static byte[] ArrayOf(System.Buffers.IMemoryOwner<byte> owner) =>
        MemoryMarshal.TryGetArray<byte>(owner.Memory, out var segment) ? segment.Array! : throw new InvalidOperationException("not an array");
}
