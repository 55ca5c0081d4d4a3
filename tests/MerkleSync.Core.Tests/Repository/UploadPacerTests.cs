using MerkleSync.Core.Sync;

namespace MerkleSync.Core.Tests.Repository;

public class UploadPacerTests
{
    [Fact]
    public void Healthy_packs_grow_size_and_concurrency_and_a_throttle_halves_both()
    {
        var pacer = new UploadPacer(64L << 20);
        Assert.Equal(16L << 20, pacer.PackSize);
        Assert.Equal(2, pacer.InFlight);

        pacer.OnPackCompleted(0);
        pacer.OnPackCompleted(0);
        pacer.OnPackCompleted(0);
        Assert.Equal(64L << 20, pacer.PackSize);
        Assert.Equal(UploadPacer.MaxInFlight, pacer.InFlight);

        pacer.OnPackCompleted(throttlesSoFar: 3);
        Assert.Equal(32L << 20, pacer.PackSize);
        Assert.Equal(2, pacer.InFlight);
        pacer.OnPackCompleted(3); // no new throttles: grow again
        Assert.Equal(3, pacer.InFlight);
        Assert.Equal(1, pacer.Backoffs);
    }

    [Fact]
    public void Small_maximum_pack_sizes_are_respected()
    {
        var pacer = new UploadPacer(2L << 20);
        Assert.Equal(2L << 20, pacer.PackSize);
        pacer.OnPackCompleted(1);
        Assert.Equal(2L << 20, pacer.PackSize);
        Assert.Equal(1, pacer.InFlight);
    }
}
