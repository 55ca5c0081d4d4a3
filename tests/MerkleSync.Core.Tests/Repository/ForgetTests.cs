using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
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

        var dry = await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: true, prune: null, None);
        Assert.Equal([v[2]], dry.Forgotten.Select(f => f.Id)); // main's head, side's head and the tag are kept
        Assert.Equal(3, dry.Kept);
        Assert.NotNull(repository.GetVersion(v[2]));
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: TimeSpan.FromHours(1)), dryRun: true, prune: null, None)).Forgotten);
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 2, KeepWithin: null), dryRun: true, prune: null, None)).Forgotten);

        var report = await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, prune: null, None);
        Assert.Equal([v[2]], report.Forgotten.Select(f => f.Id));
        Assert.Null(repository.GetVersion(v[2]));
        Assert.True(repository.IsForgotten(v[2]));
        Assert.Equal([v[3], v[1], v[0]], repository.History(v[3]).Select(h => h.Id)); // the history steps over the forgotten version
        Assert.Equal([v[1], v[0]], repository.History(v[1]).Select(h => h.Id));
        Assert.Equal(v[1], repository.Resolve("main~1").Id);
        var past = Assert.Throws<NotFoundException>(() => repository.Resolve("main~3"));
        Assert.Equal("'main~3' goes back past the first version: 'main' has 2 before it.", past.Message);
        Assert.Equal(v[0], repository.Resolve("side~1").Id);
        var named = Assert.Throws<NotFoundException>(() => repository.Resolve(v[2].ToString()[..10]));
        Assert.Equal($"Version record {v[2]} was forgotten (merklesync forget): it can no longer be pulled or named.", named.Message);
        Assert.Empty((await repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, prune: null, None)).Forgotten); // done once
        await Assert.ThrowsAsync<NotFoundException>(() => repository.ForgetAsync(new ForgetPolicy(1, null, Branches: ["nope"]), dryRun: true, prune: null, None));

        long before = repository.ListPacks().Sum(p => p.BlobLength);
        // Within gc's grace period a forgotten version's data stays: a pull may still be reading it.
        var young = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.FromHours(1)), None);
        Assert.Equal((0, 0L), (young.FilesRemoved, young.BytesFreed));
        var gc = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        long after = repository.ListPacks().Sum(p => p.BlobLength);
        Assert.True(gc.FilesRemoved == 1 && before - after > 250_000, $"gc freed {before - after} bytes, removed {gc.FilesRemoved} files");
        var verify = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
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
        await remote.Repository.ForgetAsync(new ForgetPolicy(KeepLast: 1, KeepWithin: null), dryRun: false, prune: null, None);
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

    [Fact]
    public async Task Versions_a_calendar_rule_keeps_behind_forgotten_ones_stay_in_the_history_through_gc_which_a_dry_run_estimated()
    {
        // Two versions a day on two days: --keep-daily 2 keeps each day's newest, so the history
        // goes d -> (c forgotten) -> b -> (a forgotten). b must stay reachable, nameable and whole.
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        await using var opened = await RemoteUrl.OpenAsync(repo, None);
        var remote = (LocalRemote)opened;
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));
        remote.Repository.Clock = clock;
        var v = new Hash[4];
        for (int i = 0; i < v.Length; i++)
        {
            clock.Now = new DateTimeOffset(2026, 3, 1 + (i / 2), 10 + (2 * (i % 2)), 0, 0, TimeSpan.Zero);
            DatasetFiles.Write(source, "data.bin", DatasetFiles.Random(i + 1, 300_000));
            v[i] = (await PushOperation.PushAsync(source, remote, new PushOptions(), None)).VersionId;
        }

        var repository = remote.Repository;
        var policy = new ForgetPolicy(null, null, KeepDaily: 2);
        // What a prune would free: nothing of theirs within gc's grace period, their files and packs without one.
        var withGrace = (await repository.ForgetAsync(policy, dryRun: true, prune: TimeSpan.FromHours(1), None)).Gc!;
        Assert.Equal((true, 0, 0L), (withGrace.DryRun, withGrace.FilesRemoved, withGrace.BytesFreed));
        var estimate = (await repository.ForgetAsync(policy, dryRun: true, prune: TimeSpan.Zero, None)).Gc!;
        Assert.Equal(4, repository.History(v[3]).Count()); // a dry run changes nothing
        var report = await repository.ForgetAsync(policy, dryRun: false, prune: null, None);
        Assert.Equal([v[2], v[0]], report.Forgotten.Select(f => f.Id));
        Assert.Equal([v[3], v[1]], repository.History(v[3]).Select(h => h.Id));
        Assert.Equal(v[1], repository.Resolve("main~1").Id);
        Assert.Contains("forgotten", Assert.Throws<NotFoundException>(() => repository.Resolve("main~2")).Message, StringComparison.Ordinal);
        Assert.Equal([v[3], v[1]], await remote.HistoryInPagesAsync(v[3], long.MaxValue, None, pageSize: 1).Select(h => h.Id).ToListAsync());

        clock.Now = clock.Now.AddHours(2); // past the grace period: gc may now free what a and c alone used
        var gc = await repository.CollectGarbageAsync(GcOptions.Default, None);
        Assert.Equal((0, 2), (gc.VersionsRemoved, gc.FilesRemoved)); // forget removed the records; their files go now
        Assert.True(gc.BytesFreed > 500_000, $"{gc}");
        Assert.Equal((gc.VersionsRemoved, gc.FilesRemoved, gc.NodesRemoved, gc.PacksDeleted, gc.PacksRewritten, gc.BytesFreed),
            (estimate.VersionsRemoved, estimate.FilesRemoved, estimate.NodesRemoved, estimate.PacksDeleted, estimate.PacksRewritten, estimate.BytesFreed));
        Assert.NotNull(repository.GetVersion(v[1]));
        string target = temp.Sub("pulled");
        await PullOperation.PullAsync(remote, target, new PullOptions(Version: "main~1"), None);
        Assert.Equal(DatasetFiles.Random(2, 300_000), File.ReadAllBytes(Path.Combine(target, "data.bin")));
        var verify = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
        Assert.True(verify.Ok, string.Join("; ", verify.Problems.Select(p => p.Message)));
        Assert.Equal(2, verify.Versions);

        // A marker written before markers held the parent (time and root only) ends the history.
        byte[] key = [.. "forgotten/"u8, .. v[2].ToArray()];
        repository.Db.Put(Core.Repository.Repository.Families.Meta, key, repository.Db.Get(Core.Repository.Repository.Families.Meta, key).AsSpan(0, sizeof(long) + Hash.Size));
        Assert.Equal([v[3]], repository.History(v[3]).Select(h => h.Id));
    }

    [Fact]
    public void Calendar_rules_keep_the_newest_version_of_each_of_the_last_n_days_weeks_and_months_that_have_one()
    {
        // A version every 7 hours from 1 Jan to 29 Mar 2026 (some days have three, some four), newest first.
        var start = new DateTime(2026, 1, 1, 3, 0, 0, DateTimeKind.Utc);
        var versions = Enumerable.Range(0, 300).Select(i => start.AddHours(7 * i)).Where(t => t.Month <= 3).Reverse()
            .Select((t, i) => (Id: Hash.FromBytes(DatasetFiles.Random(i, Hash.Size)), Record: new VersionRecord(Hash.Zero, Hash.Zero, new DateTimeOffset(t).ToUnixTimeMilliseconds(), "a", "", 0, 0, 0))).ToList();
        long now = new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        HashSet<Hash> Kept(ForgetPolicy policy, bool isTag = false)
        {
            var (forgotten, kept) = policy.Select([(isTag ? RefName.Tag("t") : RefName.Branch("main"), versions)], now, None);
            Assert.Equal(versions.Count, forgotten.Count + kept.Count);
            Assert.Equal(versions.Select(v => v.Id).Except(forgotten.Select(f => f.Id)), kept.Select(k => k.Id)); // newest first, as the history
            return [.. kept.Select(k => k.Id)];
        }

        // What each rule should keep, worked out another way: group by period, newest period first.
        HashSet<Hash> NewestPer(Func<DateTime, object> period, int count) =>
            [.. versions.GroupBy(v => period(v.Record.Time.UtcDateTime)).Take(count).Select(g => g.First().Id)];
        var daily = NewestPer(t => t.Date, 7);
        var weekly = NewestPer(t => (System.Globalization.ISOWeek.GetYear(t), System.Globalization.ISOWeek.GetWeekOfYear(t)), 4);
        var monthly = NewestPer(t => t.Month, 12); // only three months have versions
        var hourly = NewestPer(t => (t.Date, t.Hour), 30);

        Assert.Equal(7, daily.Count);
        Assert.Equal(3, monthly.Count);
        Assert.Equal(daily, Kept(new ForgetPolicy(null, null, KeepDaily: 7)));
        Assert.Equal(weekly, Kept(new ForgetPolicy(null, null, KeepWeekly: 4)));
        Assert.Equal(monthly, Kept(new ForgetPolicy(null, null, KeepMonthly: 12)));
        Assert.Equal(hourly, Kept(new ForgetPolicy(null, null, KeepHourly: 30)));
        Assert.Equal(30, hourly.Count); // a version every 7 hours: each in an hour of its own
        Assert.Equal([versions[0].Id], Kept(new ForgetPolicy(null, null, KeepYearly: 5))); // all in 2026
        Assert.Equal([.. daily, .. weekly, .. monthly, .. versions.Take(10).Select(v => v.Id)], Kept(new ForgetPolicy(10, null, 7, 4, 12)));
        var withinThreeDays = versions.Where(v => v.Record.Time >= new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.Zero)).Select(v => v.Id).ToHashSet();
        Assert.InRange(withinThreeDays.Count, 5, 8);
        Assert.Equal(withinThreeDays, Kept(new ForgetPolicy(null, TimeSpan.FromDays(3))));
        Assert.Equal([versions[0].Id], Kept(new ForgetPolicy(10, null, 7, 4, 12), isTag: true)); // a tag keeps its version, no history

        // Why each is kept, as restic says it: the rules that picked it.
        var why = new ForgetPolicy(2, TimeSpan.FromDays(3), KeepDaily: 7, KeepMonthly: 12).Select([(RefName.Branch("main"), versions)], now, None).Kept;
        Assert.Equal(["branch main", "daily", "last", "monthly", "within"], why[0].Reasons);
        Assert.Equal(["last", "within"], why[1].Reasons);
        Assert.Equal(["monthly"], why[^1].Reasons); // January's newest
    }

    [Fact]
    public void Rules_for_some_branches_leave_every_version_the_others_reach()
    {
        (Hash, VersionRecord) Version(int i) => (Hash.FromBytes(DatasetFiles.Random(100 + i, Hash.Size)), new VersionRecord(Hash.Zero, Hash.Zero, i, "a", $"v{i}", 0, 0, 0));
        var (m0, m1, m2, m3, s1, s2) = (Version(0), Version(1), Version(2), Version(3), Version(11), Version(12));
        (RefName, IEnumerable<(Hash, VersionRecord)>)[] histories =
        [
            (RefName.Branch("main"), [m3, m2, m1, m0]),
            (RefName.Branch("scratch"), [s2, s1, m1, m0]), // branched from main at m1
        ];
        string Forgotten(ForgetPolicy policy) => string.Join(" ", policy.Select(histories, 1_000_000, None).Forgotten.Select(f => f.Record.Message));

        Assert.Equal("v11 v2 v1 v0", Forgotten(new ForgetPolicy(1, null)));
        Assert.Equal("v11", Forgotten(new ForgetPolicy(1, null, Branches: ["scratch"])));
        Assert.Equal("v2", Forgotten(new ForgetPolicy(1, null, Branches: ["main"]))); // m1 and m0 stay: scratch reaches them
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData(0, null, null)]
    [InlineData(null, -1.0, null)]
    [InlineData(null, null, 0)]
    public async Task A_policy_that_keeps_nothing_or_is_malformed_is_refused_and_nothing_changes(int? keepLast, double? keepWithinHours, int? keepWeekly)
    {
        using var temp = new TempFolder();
        var (repo, v) = await FourVersionsAsync(temp);
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        var policy = new ForgetPolicy(keepLast, keepWithinHours is { } h ? TimeSpan.FromHours(h) : null, KeepWeekly: keepWeekly);

        await Assert.ThrowsAsync<InvalidInputException>(() => repository.ForgetAsync(policy, dryRun: false, prune: null, None));

        Assert.All(v, id => Assert.NotNull(repository.GetVersion(id)));
    }
}
