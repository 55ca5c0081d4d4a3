using MerkleSync.Core.Hashing;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>A version that a branch or tag leaves (deleted, or moved elsewhere) survives a gc for the grace period, as forgotten ones do.</summary>
public class DroppedRefTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Branch 'main' with one version and branch 'side' with two of other data (its first parentless), all pushed at the clock's time.</summary>
    private static async Task<(LocalRemote Remote, ManualClock Clock, Hash Main, Hash[] Side, string Source)> TwoBranchesAsync(TempFolder temp)
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));
        string repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        var remote = (LocalRemote)await RemoteUrl.OpenAsync(repo, None);
        remote.Repository.Clock = clock;
        string main = temp.Sub("main"), side = temp.Sub("side");
        DatasetFiles.Write(main, "main.bin", DatasetFiles.Random(1, 300_000));
        var mainVersion = (await PushOperation.PushAsync(main, remote, new PushOptions(), None)).VersionId;
        var sideVersions = new Hash[2];
        for (int i = 0; i < sideVersions.Length; i++)
        {
            DatasetFiles.Write(side, "side.bin", DatasetFiles.Random(2 + i, 300_000));
            sideVersions[i] = (await PushOperation.PushAsync(side, remote, new PushOptions(Branch: "side"), None)).VersionId;
        }

        return (remote, clock, mainVersion, sideVersions, side);
    }

    [Fact]
    public async Task A_deleted_branch_keeps_its_history_through_gc_for_the_grace_period_and_can_be_brought_back()
    {
        using var temp = new TempFolder();
        var (remote, clock, _, side, source) = await TwoBranchesAsync(temp);
        await using var opened = remote;
        var repository = remote.Repository;
        await repository.UpdateBranchAsync("side", null, side[1], None);
        Assert.Equal([new DroppedRef(RefName.Branch("side"), side[1], clock.Now)], repository.ListDropped());

        clock.Now = clock.Now.AddMinutes(30);
        var within = await repository.CollectGarbageAsync(GcOptions.Default, None);
        Assert.Equal((0, 0, 0, 0), (within.VersionsRemoved, within.FilesRemoved, within.NodesRemoved, within.PacksDeleted));
        string copy = temp.Sub("copy");
        await PullOperation.PullAsync(remote, copy, new PullOptions(Version: side[1].ToString()), None);
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(copy));

        // Brought back, then deleted again: the grace period counts from the last time it was left.
        await repository.UpdateBranchAsync("side", side[1], null, None);
        Assert.Equal([side[1], side[0]], repository.History(repository.Resolve("side").Id).Select(h => h.Id));
        clock.Now = clock.Now.AddMinutes(50);
        await repository.UpdateBranchAsync("side", null, side[1], None);
        clock.Now = clock.Now.AddMinutes(50);
        Assert.Equal(0, (await repository.CollectGarbageAsync(GcOptions.Default, None)).VersionsRemoved);

        clock.Now = clock.Now.AddMinutes(11);
        var after = await repository.CollectGarbageAsync(GcOptions.Default, None);
        Assert.Equal(2, after.VersionsRemoved);
        Assert.True(after.PacksDeleted >= 1, $"{after}");
        Assert.Null(repository.GetVersion(side[1]));
        Assert.Single(repository.ListVersions());
        Assert.Empty(repository.ListDropped());
    }

    [Fact]
    public async Task A_branch_moved_by_force_and_a_deleted_tag_keep_what_they_left_only_for_the_grace_period()
    {
        using var temp = new TempFolder();
        var (remote, clock, main, side, _) = await TwoBranchesAsync(temp);
        await using var opened = remote;
        var repository = remote.Repository;
        await repository.UpdateTagAsync("first", side[0], null, None);
        await repository.UpdateBranchAsync("side", main, side[1], None); // side's own versions now only behind what it left
        clock.Now = clock.Now.AddMinutes(1);
        await repository.UpdateTagAsync("first", null, side[0], None);
        Assert.Equal([(RefName.Tag("first"), side[0]), (RefName.Branch("side"), side[1])], repository.ListDropped().Select(d => (d.Name, d.Id)));

        var dry = await repository.CollectGarbageAsync(GcOptions.Default with { DryRun = true }, None);
        Assert.Equal(0, dry.VersionsRemoved);
        Assert.Equal(0, (await repository.CollectGarbageAsync(GcOptions.Default, None)).VersionsRemoved);

        // No grace at all: gone at once, as before markers existed.
        var none = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        Assert.Equal(2, none.VersionsRemoved);
        Assert.Equal([main], repository.ListVersions().Select(v => v.Id));
    }

    [Fact]
    public async Task A_branch_moved_along_its_history_and_an_expired_marker_leave_nothing_behind()
    {
        using var temp = new TempFolder();
        var (remote, clock, _, side, _) = await TwoBranchesAsync(temp);
        await using var opened = remote;
        var repository = remote.Repository;
        await repository.UpdateBranchAsync("side", side[0], side[1], None); // back one: side[1] is left
        await repository.UpdateBranchAsync("side", side[1], side[0], None); // and forward again

        clock.Now = clock.Now.AddHours(2);
        Assert.Equal(0, (await repository.CollectGarbageAsync(GcOptions.Default, None)).VersionsRemoved);
        await repository.UpdateBranchAsync("side", side[0], side[1], None);
        clock.Now = clock.Now.AddHours(2);
        Assert.Equal(1, (await repository.CollectGarbageAsync(GcOptions.Default, None)).VersionsRemoved);

        // Each gc dropped the markers it found expired.
        Assert.Empty(repository.DroppedHeads());
        await repository.UpdateBranchAsync("side", null, side[0], None);
        Assert.Equal([side[0]], repository.DroppedHeads().Select(d => d.Id));
        Assert.Equal(0, (await repository.CollectGarbageAsync(GcOptions.Default, None)).VersionsRemoved);
        Assert.Single(repository.DroppedHeads());
    }
}
