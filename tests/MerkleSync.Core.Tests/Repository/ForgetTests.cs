using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Verification;

namespace MerkleSync.Core.Tests.Repository;

public class ForgetTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Four versions on main, each with its own 300 KB file; branch 'side' at the second, tag 'release' at the first.</summary>
    private static async Task<(string Repo, Hash[] Versions)> FourVersionsAsync(TempFolder temp)
    {
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        var versions = new Hash[4];
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            for (int i = 0; i < versions.Length; i++)
            {
                if (i > 0)
                {
                    File.Delete(Path.Combine(source, $"v{i}.bin"));
                }

                DatasetFiles.Write(source, $"v{i + 1}.bin", DatasetFiles.Random(i + 1, 300_000));
                DatasetFiles.Write(source, "shared.txt", DatasetFiles.Text(9, 10_000));
                versions[i] = (await PushOperation.PushAsync(source, remote, new PushOptions(), None)).VersionId;
            }

            await remote.UpdateBranchAsync("side", versions[1], null, None);
            await remote.UpdateTagAsync("release", versions[0], null, None);
        }

        return (repo, versions);
    }

    [Fact]
    public async Task Forget_keeps_each_branchs_newest_and_every_ref_target_and_gc_then_frees_only_the_forgotten_versions_data()
    {
        using var temp = new TempFolder();
        var (repo, v) = await FourVersionsAsync(temp);
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);

        var dry = await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: true, None);
        Assert.Equal([v[2]], dry.Forgotten.Select(f => f.Id)); // main's head, side's head and the tag are kept
        Assert.Equal(3, dry.Kept);
        Assert.NotNull(repository.GetVersion(v[2]));
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: TimeSpan.FromHours(1)), dryRun: true, None)).Forgotten);
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 2, KeepWithin: null), dryRun: true, None)).Forgotten);

        var report = await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, None);
        Assert.Equal([v[2]], report.Forgotten.Select(f => f.Id));
        Assert.Null(repository.GetVersion(v[2]));
        Assert.True(repository.IsForgotten(v[2]));
        Assert.Equal([v[3]], repository.History(v[3]).Select(h => h.Id)); // the history ends where it reaches a forgotten version
        Assert.Equal([v[1], v[0]], repository.History(v[1]).Select(h => h.Id));
        var past = Assert.Throws<NotFoundException>(() => repository.Resolve("main~1"));
        Assert.Contains("forgotten", past.Message, StringComparison.Ordinal);
        Assert.Equal(v[0], repository.Resolve("side~1").Id);
        var named = Assert.Throws<NotFoundException>(() => repository.Resolve(v[2].ToString()[..10]));
        Assert.Equal($"Version record {v[2]} was forgotten (merklesync forget): it can no longer be pulled or named.", named.Message);
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, None)).Forgotten); // done once

        long before = repository.ListPacks().Sum(p => p.BlobLength);
        var gc = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        long after = repository.ListPacks().Sum(p => p.BlobLength);
        Assert.True(gc.FilesRemoved == 1 && before - after > 250_000, $"gc freed {before - after} bytes, removed {gc.FilesRemoved} files");
        var verify = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, None);
        Assert.True(verify.Ok, string.Join("; ", verify.Problems.Select(p => p.Message)));
        Assert.Equal(3, verify.Versions);
    }

    [Fact]
    public async Task Kept_versions_still_pull_whole_after_forget_and_gc()
    {
        using var temp = new TempFolder();
        var (repo, _) = await FourVersionsAsync(temp);
        await using var opened = await RemoteUrl.OpenAsync(repo, None);
        var remote = (LocalRemote)opened;
        await remote.Repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, None);
        await remote.Repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);

        foreach (var (name, file, seed) in new[] { ("main", "v4.bin", 4), ("side", "v2.bin", 2), ("release", "v1.bin", 1) })
        {
            string target = temp.Sub("pulled-" + name);
            await PullOperation.PullAsync(remote, target, new PullOptions(Version: name), None);
            Assert.Equal(DatasetFiles.Random(seed, 300_000), File.ReadAllBytes(Path.Combine(target, file)));
        }

        var history = await remote.HistoryInPagesAsync(remote.Repository.Resolve("side").Id, long.MaxValue, None, pageSize: 1).ToListAsync();
        Assert.Equal(2, history.Count);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(0, null)]
    [InlineData(null, -1.0)]
    public async Task A_policy_that_keeps_nothing_or_is_malformed_is_refused_and_nothing_changes(int? keepLast, double? keepWithinHours)
    {
        using var temp = new TempFolder();
        var (repo, v) = await FourVersionsAsync(temp);
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        var policy = new ForgetPolicy(keepLast, keepWithinHours is { } h ? TimeSpan.FromHours(h) : null);

        await Assert.ThrowsAsync<InvalidInputException>(() => repository.ForgetAsync(policy, dryRun: false, None));

        Assert.All(v, id => Assert.NotNull(repository.GetVersion(id)));
    }
}
