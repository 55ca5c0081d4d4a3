using System.Net;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;

namespace MerkleSync.Server.Tests;

/// <summary>Push and pull through a real server on loopback, exactly as with file:// remotes.</summary>
public class SyncOverHttpTests : FolderTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Push_and_pull_over_http_round_trip_and_a_second_push_sends_only_new_chunks()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "a/big.bin", Files.Random(1, 900_000));
        Files.Write(source, "b/small.txt", "hello"u8.ToArray());
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);

        var first = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "one"), None);
        Files.Write(source, "b/small.txt", "hello, world"u8.ToArray());
        var second = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "two"), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.Equal(first.ChunksTotal, first.ChunksNew);
        Assert.Equal(1, second.ChunksNew);
        Files.AssertSameTree(source, target);
        var history = await remote.HistoryAsync(second.VersionId, 10, None);
        Assert.Equal(["two", "one"], history.Select(h => h.Record.Message));
    }

    [Fact]
    public async Task A_branch_deleted_over_http_keeps_its_version_through_a_gc_within_the_grace_period()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        Files.Write(source, "main.bin", Files.Random(61, 200_000));
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        File.Delete(Path.Combine(source, "main.bin"));
        Files.Write(source, "side.bin", Files.Random(62, 200_000));
        var side = await PushOperation.PushAsync(source, remote, new PushOptions(Branch: "side"), None);
        await remote.UpdateBranchAsync("side", null, side.VersionId, None);
        var dropped = Assert.Single(await remote.ListDroppedAsync(None));
        Assert.Equal((RefName.Branch("side"), side.VersionId), (dropped.Name, dropped.Id));
        Assert.InRange(DateTimeOffset.UtcNow - dropped.LeftAt, TimeSpan.Zero, TimeSpan.FromMinutes(1));

        var within = await remote.CollectGarbageAsync(TimeSpan.FromHours(1), dryRun: false, None);
        Assert.Equal((0, 0), (within.VersionsRemoved, within.FilesRemoved));
        await PullOperation.PullAsync(remote, target, new PullOptions(Version: side.VersionId.ToString()), None);
        Files.AssertSameTree(source, target);

        var none = await remote.CollectGarbageAsync(TimeSpan.Zero, dryRun: false, None);
        Assert.Equal((1, 1), (none.VersionsRemoved, none.FilesRemoved));
        Assert.Empty(await remote.ListDroppedAsync(None));
    }

    [Fact]
    public async Task Forget_over_http_drops_old_versions_the_history_steps_over_them_and_gc_frees_their_data()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        var pushed = new List<PushResult>();
        for (int i = 1; i <= 3; i++)
        {
            File.Delete(Path.Combine(source, $"v{i - 1}.bin"));
            Files.Write(source, $"v{i}.bin", Files.Random(40 + i, 200_000));
            pushed.Add(await PushOperation.PushAsync(source, remote, new PushOptions(Message: $"v{i}"), None));
        }

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => remote.ForgetAsync(new(KeepLast: null, KeepWithin: null), dryRun: false, prune: null, None));
        Assert.Contains("--keep-last", refused.Message, StringComparison.Ordinal);
        using (var raw = new HttpClient())
        {
            using var zero = await raw.PostAsync($"{server.BaseUrl}/v1/datasets/ds/forget?keepLast=0", null);
            Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode); // the server checks what it is sent too
        }

        Assert.Equal(["v1"], (await remote.ForgetAsync(new(KeepLast: 2, KeepWithin: null), dryRun: true, prune: null, None)).Forgotten.Select(v => v.Record.Message));
        await remote.UpdateBranchAsync("old/v1", pushed[0].VersionId, null, None);
        Assert.DoesNotContain((await remote.ForgetAsync(new(KeepLast: 1, KeepWithin: null, Branches: ["main"]), dryRun: true, prune: null, None)).Forgotten, v => v.Record.Message == "v1"); // another branch reaches v1
        await Assert.ThrowsAsync<NotFoundException>(() => remote.ForgetAsync(new(KeepLast: 1, KeepWithin: null, Branches: ["nope"]), dryRun: true, prune: null, None));
        await remote.UpdateBranchAsync("old/v1", null, pushed[0].VersionId, None);
        var daily = await remote.ForgetAsync(new(KeepLast: null, KeepWithin: null, KeepDaily: 1), dryRun: true, prune: null, None); // the newest of the last day
        Assert.Equal(["v2", "v1"], daily.Forgotten.Select(v => v.Record.Message));
        Assert.Equal(["branch main", "daily"], Assert.Single(daily.KeptVersions).Reasons); // why, over the wire
        var yearly = await remote.ForgetAsync(new(KeepLast: null, KeepWithin: null, KeepYearly: 1), dryRun: true, prune: null, None);
        Assert.Equal(["v2", "v1"], yearly.Forgotten.Select(v => v.Record.Message)); // the rule travels as keepYearly
        var report = await remote.ForgetAsync(new(KeepLast: 2, KeepWithin: null), dryRun: false, prune: null, None);
        Assert.Equal([pushed[0].VersionId], report.Forgotten.Select(v => v.Id));
        Assert.Equal(2, report.Kept);

        // Paged one record at a time, the history ends at the forgotten parent rather than failing there.
        var history = await remote.HistoryInPagesAsync(pushed[2].VersionId, long.MaxValue, None, pageSize: 1).ToListAsync();
        Assert.Equal(["v3", "v2"], history.Select(h => h.Record.Message));
        await Assert.ThrowsAsync<NotFoundException>(async () => await remote.ResolveAsync("main~2", None));
        var dry = await remote.CollectGarbageAsync(TimeSpan.Zero, dryRun: true, None);
        var gc = await remote.CollectGarbageAsync(TimeSpan.Zero, dryRun: false, None);
        Assert.True(dry.DryRun && !gc.DryRun && dry.FilesRemoved == 1 && dry.BytesFreed == gc.BytesFreed, $"{dry} / {gc}");
        Assert.True(gc.FilesRemoved == 1 && gc.BytesFreed > 0, $"{gc}");

        // A version kept behind a forgotten one (a tag's target here) stays in the branch's history.
        for (int i = 4; i <= 5; i++)
        {
            File.Delete(Path.Combine(source, $"v{i - 1}.bin"));
            Files.Write(source, $"v{i}.bin", Files.Random(40 + i, 200_000));
            pushed.Add(await PushOperation.PushAsync(source, remote, new PushOptions(Message: $"v{i}"), None));
        }

        await remote.UpdateTagAsync("release", pushed[2].VersionId, null, None);
        var estimate = (await remote.ForgetAsync(new(KeepLast: 1, KeepWithin: null), dryRun: true, prune: TimeSpan.Zero, None)).Gc!;
        var pruned = await remote.ForgetAsync(new(KeepLast: 1, KeepWithin: null), dryRun: false, prune: TimeSpan.Zero, None);
        Assert.Equal(["v4", "v2"], pruned.Forgotten.Select(v => v.Record.Message));
        Assert.True(estimate.DryRun && pruned.Gc is { DryRun: false, FilesRemoved: 2 } && estimate.FilesRemoved == 2 && estimate.BytesFreed == pruned.Gc.BytesFreed, $"{estimate} / {pruned.Gc}");
        history = await remote.HistoryInPagesAsync(pushed[4].VersionId, long.MaxValue, None, pageSize: 1).ToListAsync();
        Assert.Equal(["v5", "v3"], history.Select(h => h.Record.Message));
        Assert.Equal("v3", (await remote.ResolveAsync("main~1", None)).Record.Message);
    }

    [Fact]
    public async Task A_dry_run_push_reports_what_a_push_would_send_and_sends_and_publishes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "a/big.bin", Files.Random(3, 3_000_000)); // enough for a push to upload early, while hashing
        Files.Write(source, "b/small.txt", "hello"u8.ToArray());
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);

        var dry = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20, DryRun: true), None);
        var refsAfterDryRun = await remote.ListRefsAsync(None);
        int packsAfterDryRun = Directory.EnumerateFiles(server.Root, "*.pack", SearchOption.AllDirectories).Count();
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None);
        var again = await PushOperation.PushAsync(source, remote, new PushOptions(DryRun: true), None);

        Assert.True(dry.DryRun && dry.WouldPublish && !dry.Published);
        Assert.Empty(refsAfterDryRun);
        Assert.Equal(0, packsAfterDryRun);
        Assert.Equal(pushed.ChunksNew, dry.ChunksNew);
        Assert.Equal(pushed.NewChunkBytes, dry.NewChunkBytes);
        Assert.Equal(pushed.Root, dry.Root);
        Assert.False(again.WouldPublish);
        Assert.Equal(0, again.ChunksNew);
    }

    [Fact]
    public async Task A_history_longer_than_a_page_is_read_in_full_page_after_page()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        PushResult? last = null;
        for (int i = 1; i <= 5; i++)
        {
            Files.Write(source, "n.txt", System.Text.Encoding.UTF8.GetBytes($"version {i}"));
            last = await PushOperation.PushAsync(source, remote, new PushOptions(Message: $"{i}"), None);
        }

        var all = await remote.HistoryInPagesAsync(last!.VersionId, long.MaxValue, None, pageSize: 2).ToListAsync();
        var three = await remote.HistoryInPagesAsync(last.VersionId, 3, None, pageSize: 2).ToListAsync();

        Assert.Equal(["5", "4", "3", "2", "1"], all.Select(v => v.Record.Message));
        Assert.Equal(["5", "4", "3"], three.Select(v => v.Record.Message));
    }

    [Fact]
    public async Task A_dataset_whose_folder_is_deleted_while_the_server_runs_takes_no_more_writes()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "a.txt", "one"u8.ToArray());
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        string folder = Path.Combine(server.Root, "datasets", "ds");
        Directory.Delete(folder, recursive: true);
        Files.Write(source, "b.txt", "two"u8.ToArray());

        // Accepted, this push would have been lost at the server's next start.
        var refused = await Assert.ThrowsAsync<NotFoundException>(() => PushOperation.PushAsync(source, remote, new PushOptions(), None));
        Assert.Contains("removed while the server ran", refused.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    [Theory]
    [InlineData("bytes=5-4100", 5L, 4100L)]
    [InlineData("bytes=4095-", 4095L, null)]
    [InlineData("bytes=-3000", null, null)]
    public async Task A_pack_range_is_served_exactly(string range, long? first, long? last)
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "big.bin", Files.Random(4, 3_000_000));
        await using (var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await remote.CreateAsync(None);
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        }

        string pack = Directory.EnumerateFiles(server.Root, "*.pack", SearchOption.AllDirectories).Single();
        byte[] bytes = await File.ReadAllBytesAsync(pack);
        long start = first ?? bytes.Length - 3000, end = last ?? bytes.Length - 1;
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{server.BaseUrl}/v1/datasets/ds/packs/{Path.GetFileNameWithoutExtension(pack)}");
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(start, response.Content.Headers.ContentRange!.From);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentRange.Length);
        Assert.Equal(bytes.AsSpan((int)start, (int)(end - start + 1)).ToArray(), await response.Content.ReadAsByteArrayAsync());

        using var beyond = new HttpRequestMessage(HttpMethod.Get, request.RequestUri);
        beyond.Headers.TryAddWithoutValidation("Range", $"bytes={bytes.Length}-");
        using var refused = await http.SendAsync(beyond);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, refused.StatusCode);
    }

    [Fact]
    public async Task A_stale_publish_gets_409_and_a_conflict()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "x.bin", Files.Random(2, 10_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        var first = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        Files.Write(source, "y.bin", Files.Random(3, 10_000));
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        var stale = new Core.Repository.PublishRequest("main", first.VersionId, first.Root, "me", "stale");
        await Assert.ThrowsAsync<ConflictException>(async () => await remote.PublishAsync(stale, None));
    }

    [Fact]
    public async Task Branches_move_by_compare_and_swap_and_bad_bodies_get_400()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "x.bin", Files.Random(4, 10_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        var first = await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        await remote.UpdateBranchAsync("dev", first.VersionId, null, None);
        Assert.Equal(first.VersionId, (await remote.GetBranchAsync("dev", None))!.Id);
        await Assert.ThrowsAsync<ConflictException>(async () => await remote.UpdateBranchAsync("dev", first.VersionId, null, None));
        await remote.UpdateBranchAsync("dev", null, first.VersionId, None);
        Assert.Null(await remote.GetBranchAsync("dev", None));

        using var client = new HttpClient();
        string url = $"{server.BaseUrl}/v1/datasets/ds/branches/dev";
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync(url, new StringContent("{not json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync(url, new StringContent("{\"record\": 7}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsync(url, new StringContent($"{{\"record\": \"{new string('0', 64)}\"}}"))).StatusCode);
    }

    [Fact]
    public async Task A_proxy_that_ignores_Range_still_gives_correct_files()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(4, 1_500_000)); // streamed on its own
        Files.Write(source, "other.bin", Files.Random(5, 300_000)); // built in a batch of small files
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new MisbehavingProxy(stripRange: true, truncate: false));
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_pull_that_a_garbage_collection_overtakes_plans_again_and_completes()
    {
        await using var server = await TestServer.StartAsync();
        string onlyB = await PushAPackForGcToRewriteAsync(server, ("c.bin", Files.Random(23, 200_000))), target = NewFolder(); // c.bin: built in a batch of small files

        // The pull reads its plans, then, before its first pack read, a gc rewrites the pack they name.
        var gcFirst = new GarbageCollectionBeforeFirstPackRead($"{server.BaseUrl}/v1/datasets/ds/gc?graceSeconds=0");
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, gcFirst);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.True(gcFirst.Report.Contains("\"packsRewritten\":1", StringComparison.OrdinalIgnoreCase), gcFirst.Report);
        Files.AssertSameTree(onlyB, target);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)] // b.bin (5 MB) is read in two pieces: the gc comes after the first piece is written
    public async Task Cat_of_a_file_whose_pack_a_garbage_collection_rewrites_meanwhile_plans_again_and_writes_each_byte_once(int readsBefore)
    {
        await using var server = await TestServer.StartAsync();
        string main = await PushAPackForGcToRewriteAsync(server);
        var gcFirst = new GarbageCollectionBeforeFirstPackRead($"{server.BaseUrl}/v1/datasets/ds/gc?graceSeconds=0", readsBefore);
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, gcFirst);
        var head = (await remote.GetBranchAsync("main", None))!;
        var entry = (await MerkleSync.Core.Tree.TreeReader.FindAsync(remote.Nodes, head.Record.Root, "b.bin", None)) ?? throw new InvalidOperationException("b.bin is not on main");

        using var output = new MemoryStream();
        await FileStreamer.WriteToAsync(remote, entry, output, None);

        Assert.True(gcFirst.Report.Contains("\"packsRewritten\":1", StringComparison.OrdinalIgnoreCase), gcFirst.Report);
        Assert.Equal(File.ReadAllBytes(Path.Combine(main, "b.bin")), output.ToArray());
    }

    [Fact]
    public async Task Cat_writes_the_zeros_of_a_files_holes_without_reading_them()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        // Ten runs of data, each followed by a hole of 1 MiB: cut into maximum-size chunks of zeros,
        // stored once. Read, the first chunk of zeros of each hole after the first was a ranged read.
        byte[] content = [.. Enumerable.Range(0, 10).SelectMany(i => Files.Random(300 + i, 100_000).Concat(new byte[1 << 20]))];
        Files.Write(source, "disk.img", content);
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        var counting = new CountRequests();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, counting);
        var head = (await remote.GetBranchAsync("main", None))!;
        var entry = (await MerkleSync.Core.Tree.TreeReader.FindAsync(remote.Nodes, head.Record.Root, "disk.img", None)) ?? throw new InvalidOperationException("disk.img is not on main");
        using var output = new MemoryStream();
        await FileStreamer.WriteToAsync(remote, entry, output, None);

        Assert.Equal(content, output.ToArray());
        Assert.InRange(counting.Count(HttpMethod.Get, "/packs/"), 1, 11); // one per run of data, and the file's short last chunk
    }

    /// <summary>
    /// Branch "old" with a.bin (6 MB) and b.bin (5 MB, over 4 MiB: streamed on its own by a pull) in
    /// one pack, then main with b.bin (its chunks stay in that pack) and <paramref name="alsoOnMain"/>,
    /// then "old" deleted: a.bin is garbage, and a gc without grace rewrites the pack. Returns main's folder.
    /// </summary>
    private async Task<string> PushAPackForGcToRewriteAsync(TestServer server, params (string Name, byte[] Content)[] alsoOnMain)
    {
        string both = NewFolder(), main = NewFolder();
        byte[] b = Files.Random(22, 5_000_000);
        Files.Write(both, "a.bin", Files.Random(21, 6_000_000));
        Files.Write(both, "b.bin", b);
        Files.Write(main, "b.bin", b);
        foreach (var (name, content) in alsoOnMain)
        {
            Files.Write(main, name, content);
        }

        await using var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await push.CreateAsync(None);
        await PushOperation.PushAsync(both, push, new PushOptions(Branch: "old"), None);
        await PushOperation.PushAsync(main, push, new PushOptions(), None);
        await push.UpdateBranchAsync("old", null, (await push.GetBranchAsync("old", None))!.Id, None);
        return main;
    }

    [Fact]
    public async Task A_truncated_body_fails_the_pull_and_writes_no_file()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(6, 1_500_000));
        Files.Write(source, "small.bin", Files.Random(7, 300_000));
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new MisbehavingProxy(stripRange: false, truncate: true));
        await Assert.ThrowsAnyAsync<Exception>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));

        Assert.False(File.Exists(Path.Combine(target, "big.bin")));
        Assert.False(File.Exists(Path.Combine(target, "small.bin")));
    }

    [Fact]
    public async Task Small_files_fail_while_a_large_file_comes_in_and_the_pull_stops_both_with_that_error()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(8, 40_000_000)); // ten 4 MiB ranged reads
        for (int i = 0; i < 20; i++)
        {
            Files.Write(source, $"small/{i:D2}.bin", Files.Random(100 + i, 10_000));
        }

        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        var proxy = new RefuseBatchPlansAndSlowPackReads();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, proxy);
        var failure = await Assert.ThrowsAsync<InvalidInputException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));

        Assert.Contains("no plans for batches", failure.Message, StringComparison.Ordinal);
        // The large file stopped, not read to its end: it reads four of its ten pieces at once, and a
        // fifth can start only if one of those (each held 150 ms) ends before the small files fail.
        Assert.InRange(proxy.PackReads, 0, 5);
        Assert.Empty(Directory.EnumerateFileSystemEntries(target)); // a first pull that failed takes the state it made, and placed nothing
    }

    [Fact]
    public async Task A_pull_or_verify_of_many_small_files_makes_a_few_requests_not_one_or_two_per_file()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        for (int i = 0; i < 2000; i++)
        {
            Files.Write(source, $"d{i % 20:D2}/f{i:D4}.bin", Files.Random(2000 + i, 100 + (i % 16 * 1024)));
        }

        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        var counting = new CountRequests();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, counting);
        var pulled = await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Files.AssertSameTree(source, target);
        Assert.Equal(2000, pulled.FilesWritten);
        Assert.Equal(0, counting.Count(HttpMethod.Get, "/nodes/")); // the tree comes a level at a time
        Assert.InRange(counting.Count(HttpMethod.Post, "/nodes/lookup"), 1, 4);
        Assert.Equal(0, counting.Count(HttpMethod.Get, "/files/"));
        Assert.InRange(counting.Count(HttpMethod.Post, "/files/reconstructions"), 1, 2); // plans for up to 4096 files per batch
        Assert.InRange(counting.Count(HttpMethod.Get, "/packs/"), 1, 1 + (pulled.PackBytesRead / RemoteExtensions.MaxReadBytes) + 2);

        // verify asks for plans a thousand files at a time, and reads their chunks together, too.
        int plansBefore = counting.Count(HttpMethod.Post, "/files/reconstructions"), readsBefore = counting.Count(HttpMethod.Get, "/packs/");
        var progress = new Core.Progress.OperationProgress();
        var report = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [await remote.ResolveAsync("main", None)], Core.Verification.PackSubset.All, progress, None);
        Assert.True(report.Ok);
        Assert.Equal(2000, report.Files);
        Assert.Equal((report.BytesRead, 0L), (progress.BytesRead, progress.BytesToRead)); // the files share no chunk; the total is not known ahead over HTTP
        Assert.Equal(2, counting.Count(HttpMethod.Post, "/files/reconstructions") - plansBefore);
        Assert.Equal(0, counting.Count(HttpMethod.Get, "/files/"));
        Assert.InRange(counting.Count(HttpMethod.Get, "/packs/") - readsBefore, 1, 2 + (report.BytesRead / RemoteExtensions.MaxReadBytes) + 2);
        Assert.Equal(0, counting.Count(HttpMethod.Get, "/nodes/"));
    }

    [Fact]
    public async Task Node_lookups_answer_a_prefix_of_at_most_the_budget_and_bad_lookups_get_clear_errors()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        for (int i = 0; i < 200; i++)
        {
            Files.Write(source, $"a-rather-long-folder-name-to-fill-the-leaf/file-{i:D4}.bin", Files.Random(i, 10));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        // The largest node, asked for often enough that more than one answer holds it.
        var (id, node) = (pushed.Root, (await remote.Nodes.TryGetAsync(pushed.Root, None))!);
        for (var pending = new Queue<Core.Hashing.Hash>([pushed.Root]); pending.TryDequeue(out var next);)
        {
            byte[] bytes = (await remote.Nodes.TryGetAsync(next, None))!;
            (id, node) = bytes.Length > node.Length ? (next, bytes) : (id, node);
            Core.Tree.TreeNode.Decode(bytes).Children.ToList().ForEach(child => pending.Enqueue(child.NodeId));
        }

        var asked = Enumerable.Repeat(id, Math.Min(2 * WireFormat.ResponseBudget / node.Length, 100_000)).ToList();

        using var client = new HttpClient();
        string url = $"{server.BaseUrl}/v1/datasets/ds/nodes/lookup";
        using var first = await client.PostAsync(url, new ByteArrayContent(WireFormat.EncodeHashes(asked)));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var prefix = WireFormat.DecodeNodeLookup(await first.Content.ReadAsByteArrayAsync(), asked);
        Assert.InRange(prefix.Count, 1, asked.Count - 1);
        Assert.InRange((prefix.Count - 1) * (long)node.Length, 0, WireFormat.ResponseBudget);
        Assert.All(prefix, answered => Assert.Equal(node, answered.Value));

        // An answer that does not match what was asked is refused, whatever its bytes.
        var other = Enumerable.Repeat(Core.Hashing.Hash.Zero, 10).ToList();
        Assert.Throws<CorruptDataException>(() => WireFormat.DecodeNodeLookup(WireFormat.EncodeNodes([new(id, node)]).Span, other));
        Assert.Throws<CorruptDataException>(() => WireFormat.DecodeNodeLookup(WireFormat.EncodeNodes([new(id, [.. node, 0])]).Span, asked));
        Assert.Throws<CorruptDataException>(() => WireFormat.DecodeNodeLookup(WireFormat.EncodeNodes([]).Span, asked));

        await AssertBadHashListsAreRefusedAsync(client, url, WireFormat.MaxHashesPerRequest);
    }

    /// <summary>An unknown hash is 404, a body that is not whole hashes 400, more hashes than allowed 413.</summary>
    private static async Task AssertBadHashListsAreRefusedAsync(HttpClient client, string url, int maxHashes)
    {
        using var unknown = await client.PostAsync(url, new ByteArrayContent(new byte[32]));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var ragged = await client.PostAsync(url, new ByteArrayContent(new byte[33]));
        Assert.Equal(HttpStatusCode.BadRequest, ragged.StatusCode);
        using var tooMany = await client.PostAsync(url, new ByteArrayContent(new byte[(maxHashes + 1) * 32]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);
    }

    [Fact]
    public async Task Plans_beyond_one_answer_come_in_several_and_bad_requests_for_plans_get_clear_errors()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "big.bin", Files.Random(11, 10_000_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var file = (await remote.Nodes.TryGetAsync(pushed.Root, None)) is { } root ? Core.Tree.TreeNode.Decode(root).Entries.Single().FileHash : default;
        var asked = Enumerable.Repeat(file, 1000).ToList(); // ~9 KB of plan each: more than one answer holds

        using var client = new HttpClient();
        string url = $"{server.BaseUrl}/v1/datasets/ds/files/reconstructions";
        using var first = await client.PostAsync(url, new ByteArrayContent(Core.Sync.Protocol.WireFormat.EncodeHashes(asked)));
        var prefix = Core.Sync.Protocol.WireFormat.DecodeReconstructions(await first.Content.ReadAsByteArrayAsync(), asked);
        Assert.InRange(prefix.Count, 1, 999);
        Assert.InRange(prefix.Count * (long)Core.Sync.Protocol.WireFormat.EncodeReconstruction(prefix[0]).Length, 1, Core.Sync.Protocol.WireFormat.ResponseBudget + 20_000);

        var plans = await remote.GetReconstructionsAsync(asked, None);
        Assert.Equal(1000, plans.Count);
        Assert.All(plans, p => Assert.Equal(10_000_000, p.Length));

        await AssertBadHashListsAreRefusedAsync(client, url, WireFormat.MaxPlansPerRequest);
    }

    [Fact]
    public async Task Verify_over_http_blames_the_one_file_whose_plan_is_missing()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        foreach (string name in new[] { "a.bin", "b.bin", "c.bin" })
        {
            Files.Write(source, name, Files.Random(name[0], 20_000));
        }

        VersionRef version;
        Core.Tree.TreeEntry hidden;
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
            version = await push.ResolveAsync("main", None);
            hidden = Core.Tree.TreeNode.Decode((await push.Nodes.TryGetAsync(version.Record.Root, None))!).Entries.Single(e => e.Path == "b.bin");
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new HideFile(hidden.FileHash));
        var report = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.All, null, None);

        Assert.Equal(3, report.Files);
        var problem = Assert.Single(report.Problems);
        Assert.Equal(["b.bin"], problem.Paths);
        Assert.Contains("404", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_over_http_blames_a_corrupt_chunk_on_its_file_though_it_was_read_with_its_neighbours()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        foreach (string name in new[] { "a.bin", "b.bin", "c.bin" })
        {
            Files.Write(source, name, Files.Random(name[0] + 100, 20_000));
        }

        await using var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await push.CreateAsync(None);
        await PushOperation.PushAsync(source, push, new PushOptions(), None);
        var version = await push.ResolveAsync("main", None);
        var b = Core.Tree.TreeNode.Decode((await push.Nodes.TryGetAsync(version.Record.Root, None))!).Entries.Single(e => e.Path == "b.bin");
        var chunk = (await push.GetReconstructionAsync(b.FileHash, None)).Segments[0].Run[0];

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new CorruptPackByte(chunk.Offset + 100));
        var report = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.All, null, None);

        var problem = Assert.Single(report.Problems);
        Assert.Equal(["b.bin"], problem.Paths);
    }

    [Fact]
    public async Task Verify_over_http_reads_a_shared_subtree_once_yet_names_every_version_and_path_a_damaged_file_breaks()
    {
        // v1: m/x.bin and z/y.bin among 600 small files (about ten leaves); v2 changes z/y.bin, so
        // x's leaf is shared; v3 adds a copy of x at c/x2.bin.
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        foreach (int i in Enumerable.Range(0, 300))
        {
            Files.Write(source, $"f/{i:D3}.txt", "filler"u8.ToArray());
            Files.Write(source, $"n/{i:D3}.txt", "filler"u8.ToArray());
        }

        var versions = new List<VersionRef>();
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            Files.Write(source, "m/x.bin", Files.Random(301, 20_000));
            Files.Write(source, "z/y.bin", Files.Random(302, 20_000));
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
            versions.Add(await push.ResolveAsync("main", None));
            Files.Write(source, "z/y.bin", Files.Random(303, 20_000));
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
            versions.Add(await push.ResolveAsync("main", None));
            Files.Write(source, "c/x2.bin", Files.Random(301, 20_000));
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
            versions.Add(await push.ResolveAsync("main", None));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        var x = await Core.Tree.TreeReader.EnumerateAsync(remote.Nodes, versions[0].Record.Root, None).SingleAsync(e => e.Path == "m/x.bin");
        var chunk = (await remote.GetReconstructionAsync(x.FileHash, None)).Segments[0].Run[0];
        await using var damaged = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new CorruptPackByte(chunk.Offset + 100));

        var report = await Core.Verification.RemoteVerifier.VerifyAsync(damaged, versions, Core.Verification.PackSubset.All, null, None);

        // (The byte is flipped at that offset of any pack read, so another pack may be damaged too: only x's problems are counted.)
        var uses = report.Problems.Where(p => p.Subject == "file " + x.FileHash).Select(p => (p.Paths.Single(), versions.FindIndex(v => v.Id == p.Versions.Single()))).Order().ToList();
        Assert.Equal([("c/x2.bin", 2), ("m/x.bin", 0), ("m/x.bin", 1), ("m/x.bin", 2)], uses);
        Assert.Equal(4, report.Files); // x, two y, the filler
        int leaves = (await Core.Tree.TreeReader.LoadAsync(remote.Nodes, versions[0].Record.Root, None)).Children.Count;
        Assert.True(leaves > 3 && report.Nodes < 3 * (leaves + 1), $"{report.Nodes} nodes for three versions of {leaves} leaves each"); // the versions share leaves
    }

    [Fact]
    public async Task A_pack_damaged_on_the_server_is_named_by_verify_repaired_by_the_server_and_healed_by_a_full_push()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        foreach (string name in new[] { "a.bin", "b.bin", "c.bin" })
        {
            Files.Write(source, name, Files.Random(name[0] + 200, 20_000));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(Compression: Compression.Off), None);
        var version = await remote.ResolveAsync("main", None);
        var b = Core.Tree.TreeNode.Decode((await remote.Nodes.TryGetAsync(version.Record.Root, None))!).Entries.Single(e => e.Path == "b.bin");
        var (packId, run) = (await remote.GetReconstructionAsync(b.FileHash, None)).Segments[0];
        string packFile = Directory.EnumerateFiles(server.Root, packId + ".pack", SearchOption.AllDirectories).Single();
        using (var stream = File.Open(packFile, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = run[0].Offset + 100;
            stream.WriteByte(0x5a);
        }

        var onDisk = Directory.EnumerateFiles(server.Root, "*.pack", SearchOption.AllDirectories).Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToList();
        var listed = await remote.ListPackIdsAsync(None).Select(id => id.ToString()).ToListAsync();
        var found = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.All, null, None);
        var repair = await remote.RepairPackAsync(packId, None);
        var again = await remote.RepairPackAsync(repair.NewPack!.Value, None);
        var full = await PushOperation.PushAsync(source, remote, new PushOptions(Full: true), None);
        var healed = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.All, null, None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.Equal(onDisk, listed);
        Assert.Equal(packId, Assert.Single(found.Problems).DamagedPack);
        Assert.False(repair.Intact);
        Assert.Equal([b.FileHash], repair.FilesLost);
        Assert.True(again.Intact);
        Assert.Equal(1, full.ChunksNew);
        Assert.True(healed.Ok);
        Files.AssertSameTree(source, target);
        var status = await Assert.ThrowsAsync<NotFoundException>(() => remote.RepairPackAsync(packId, None)); // dropped by the repair
        Assert.Contains(packId.ToString(), status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_over_http_reports_a_missing_pack_on_its_files_and_is_not_fooled_by_a_concurrent_gc()
    {
        await using var server = await TestServer.StartAsync();
        await PushAPackForGcToRewriteAsync(server);
        var url = new Uri(server.DatasetUrl("ds"));
        await using var push = new HttpRemote(url, null);
        var main = await push.ResolveAsync("main", None);

        // A gc rewrites b.bin's pack after the verify read its plans: not a problem of the repository.
        var gcFirst = new GarbageCollectionBeforeFirstPackRead($"{server.BaseUrl}/v1/datasets/ds/gc?graceSeconds=0");
        await using (var remote = new HttpRemote(url, null, gcFirst))
        {
            var report = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [main], Core.Verification.PackSubset.All, null, None);
            Assert.True(gcFirst.Report.Contains("\"packsRewritten\":1", StringComparison.OrdinalIgnoreCase), gcFirst.Report);
            Assert.Empty(report.Problems);
        }

        // A pack that is really gone is a problem of the files in it, not the end of the verify.
        foreach (string pack in Directory.EnumerateFiles(Path.Combine(server.Root, "datasets"), "*", SearchOption.AllDirectories).Where(f => f.Contains("/packs/", StringComparison.Ordinal)))
        {
            File.Delete(pack);
        }

        var broken = await Core.Verification.RemoteVerifier.VerifyAsync(push, [main], Core.Verification.PackSubset.All, null, None);
        var problem = Assert.Single(broken.Problems);
        Assert.Equal(["b.bin"], problem.Paths);
    }

    [Fact]
    public async Task Verify_over_http_reads_each_pack_in_exactly_one_of_the_subsets_1_to_t_of_t()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        for (int i = 0; i < 8; i++)
        {
            Files.Write(source, $"f{i}.bin", Files.Random(200 + i, 300_000));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        Assert.True((await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10), None)).Packs >= 4);
        var version = await remote.ResolveAsync("main", None);

        var all = await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.All, null, None);
        var groups = new List<Core.Verification.VerifyReport>();
        for (int n = 1; n <= 4; n++)
        {
            groups.Add(await Core.Verification.RemoteVerifier.VerifyAsync(remote, [version], Core.Verification.PackSubset.Parse($"{n}/4"), null, None));
        }

        Assert.True(all.Ok);
        Assert.All(groups, g => Assert.True(g.Ok));
        Assert.Equal(all.PacksRead, groups.Sum(g => g.PacksRead));
        Assert.Equal(all.BytesRead, groups.Sum(g => g.BytesRead));
        Assert.Equal(8, all.Files);
    }

    [Fact]
    public async Task Stats_over_http_count_each_distinct_file_and_chunk_once()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        byte[] shared = Files.Random(300, 250_000);
        Files.Write(source, "a.bin", shared);
        Files.Write(source, "b/a.bin", shared);
        Files.Write(source, "c.bin", Files.Random(301, 50_000));

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var stats = await Core.Statistics.DatasetStats.CollectAsync(remote, await remote.ReachableVersionsAsync(None), None);

        Assert.Equal((1, 3L, 550_000L, 2L, 300_000L, 300_000L), (stats.Versions, stats.Entries, stats.Bytes, stats.DistinctFiles, stats.DistinctFileBytes, stats.ChunkBytes));
        Assert.Equal(1, stats.Packs);
    }

    /// <summary>Flips the byte at one offset of a pack in every ranged answer that covers it.</summary>
    private sealed class CorruptPackByte(long offset) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.Contains("/packs/", StringComparison.Ordinal) && response.Content.Headers.ContentRange is { From: { } from, To: { } to }
                && offset >= from && offset <= to)
            {
                byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                body[offset - from] ^= 0xFF;
                var corrupted = new ByteArrayContent(body);
                foreach (var header in response.Content.Headers)
                {
                    corrupted.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content = corrupted;
            }

            return response;
        }
    }

    /// <summary>A server that lost one file's record: a request for its plan, alone or among others, is 404.</summary>
    private sealed class HideFile(Core.Hashing.Hash file) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            bool asksForIt = request.RequestUri!.AbsolutePath.EndsWith("/files/reconstructions", StringComparison.Ordinal)
                && Core.Sync.Protocol.WireFormat.DecodeHashes(await request.Content!.ReadAsByteArrayAsync(cancellationToken)).Contains(file);
            return asksForIt
                ? new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("{\"error\": \"no such file\"}") }
                : await base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task A_push_uploads_what_it_has_hashed_while_it_hashes_the_rest_and_sends_each_chunk_once()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        byte[] shared = Files.Random(100, 300_000);
        for (int i = 0; i < 24; i++)
        {
            // Every file also holds the same 300 KB, which early rounds and the last round must send only once.
            Files.Write(source, $"d{i % 3}/f{i}.bin", [.. Files.Random(i, 200_000 + (i * 1000)), .. shared]);
        }

        var counting = new CountRequests();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, counting);
        await remote.CreateAsync(None);
        // Packs of 256 KB: a round starts for each half megabyte hashed.
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10), None);

        Assert.InRange(counting.Count(HttpMethod.Post, "/missing/files"), 3, 24);
        var distinct = new HashSet<Core.Hashing.Hash>();
        foreach (string file in Directory.EnumerateFiles(source, "*.bin", SearchOption.AllDirectories))
        {
            distinct.UnionWith(Core.Chunking.ContentHasher.Hash(File.ReadAllBytes(file)).Chunks.Select(c => c.Hash));
        }

        Assert.Equal(distinct.Count, pushed.ChunksNew);
        Assert.False((await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10), None)).Published);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
        Assert.True((await Core.Verification.RemoteVerifier.VerifyAsync(remote, [await remote.ResolveAsync("main", None)], Core.Verification.PackSubset.All, null, None)).Ok);
    }

    [Fact]
    public async Task An_upload_that_fails_while_the_push_still_hashes_stops_the_push_at_once_with_its_error()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        for (int i = 0; i < 2000; i++)
        {
            Files.Write(source, $"d{i / 100}/f{i:D4}.bin", Files.Random(7000 + i, 20_000));
        }

        // Hashing pauses once 4 MB are read (files already started finish), until the first group's
        // negotiation has failed: on a loaded machine it could otherwise hash all 40 MB before that
        // group's first request goes out. After the failure each file takes 10 ms more, so hashing
        // the remaining 36 MB would take ~9 s: the failing thread, however slowly it is scheduled on
        // a loaded machine, has seconds to stop hashing, and a push that does not stop reads it all.
        var progress = new OperationProgress();
        var negotiation = new FailFirstNegotiation(progress);
        progress.Read += total =>
        {
            if (total >= 4_000_000 && !negotiation.Failed.IsSet)
            {
                Assert.True(negotiation.Failed.Wait(TimeSpan.FromSeconds(60)), "the first negotiation never came");
            }

            if (negotiation.Failed.IsSet)
            {
                Thread.Sleep(10);
            }
        };
        await using var failing = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, negotiation);
        await failing.CreateAsync(None);

        // Packs of 256 KB: the first group is negotiated once half a megabyte of the 40 MB is hashed.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PushOperation.PushAsync(source, failing, new PushOptions(PackSize: 256 << 10, Progress: progress), None));

        Assert.Equal("simulated failure", error.Message);
        Assert.InRange(negotiation.ReadWhenFailed, 1, 40_000_000 - 1); // an early group failed, while hashing went on
        // Hashing stopped then, instead of reading the remaining 36 MB.
        Assert.InRange(progress.BytesRead - negotiation.ReadWhenFailed, 0, 16_000_000);
    }

    [Fact]
    public async Task An_early_upload_that_fails_once_hashing_is_done_fails_the_push_with_its_error_and_publishes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        for (int i = 0; i < 24; i++)
        {
            Files.Write(source, $"d{i % 3}/f{i:D2}.bin", Files.Random(300 + i, 300_000));
        }

        // Hashing waits, once 1 MB is read, for an early round's first PATCH, which waits until
        // hashing is done and then fails: the push is past hashing when its early round fails.
        var progress = new OperationProgress();
        var upload = new FailFirstPatchAfterHashing(progress);
        progress.Read += total =>
        {
            if (total >= 1_000_000)
            {
                Assert.True(upload.Held.Wait(TimeSpan.FromSeconds(60)), "no early upload");
            }
        };
        await using var failing = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, upload);
        await failing.CreateAsync(None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PushOperation.PushAsync(source, failing, new PushOptions(PackSize: 256 << 10, Progress: progress), None));

        Assert.Equal("simulated failure", error.Message);
        Assert.Equal(Stage.Hashing, upload.StageWhenSent);
        Assert.Null(await failing.GetBranchAsync("main", None));
        // Run again, it sends what is missing and publishes.
        Assert.True((await PushOperation.PushAsync(source, failing, new PushOptions(PackSize: 256 << 10), None)).Published);
        await PullOperation.PullAsync(failing, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    /// <summary>Holds the first PATCH until the push is past hashing, then fails it, noting the stage it was sent in.</summary>
    private sealed class FailFirstPatchAfterHashing(OperationProgress progress) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _patches;

        public ManualResetEventSlim Held { get; } = new();

        public Stage StageWhenSent { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Patch && Interlocked.Increment(ref _patches) == 1)
            {
                StageWhenSent = progress.Stage;
                Held.Set();
                for (int waited = 0; progress.Stage <= Stage.Hashing && waited < 60_000; waited += 10)
                {
                    await Task.Delay(10, cancellationToken);
                }

                throw new InvalidOperationException("simulated failure");
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Fails the first question about missing files, noting how much the push had read by then.</summary>
    private sealed class FailFirstNegotiation(OperationProgress progress) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _asked;

        public long ReadWhenFailed { get; private set; }

        public ManualResetEventSlim Failed { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/missing/files", StringComparison.Ordinal) && Interlocked.Increment(ref _asked) == 1)
            {
                ReadWhenFailed = progress.BytesRead;
                Failed.Set();
                throw new InvalidOperationException("simulated failure");
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task Progress_counts_as_deduplicated_only_what_was_compared_with_the_remote_and_found_there()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        for (int i = 0; i < 10; i++)
        {
            Files.Write(source, $"old/f{i}.bin", Files.Random(7000 + i, 400_000));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10), None);
        long onRemote = 10 * 400_000;
        for (int i = 0; i < 40; i++)
        {
            Files.Write(source, $"new/f{i:D2}.bin", Files.Random(8000 + i, 400_000));
        }

        // The stat cache vouches for old/ without hashing it; new/ (16 MB) is hashed in path order.
        // Once 8 MB are read, hashing waits until an early round has settled what it sent, so
        // the display is read while most of new/ has not been compared with the remote yet.
        var progress = new OperationProgress();
        long mostSeen = 0;
        var seen = new List<Stage>();
        progress.Read += total =>
        {
            if (total >= 8_000_000)
            {
                Assert.True(SpinWait.SpinUntil(() => progress.BytesToTransfer > 0, TimeSpan.FromSeconds(60)), "no early round");
            }

            mostSeen = Math.Max(mostSeen, progress.BytesDeduplicated);
        };
        progress.StageEntered += stage =>
        {
            seen.Add(stage);
            mostSeen = Math.Max(mostSeen, progress.BytesDeduplicated);
        };
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10, Progress: progress), None);

        Assert.Equal(40 * 400_000, pushed.NewChunkBytes);
        Assert.Equal(onRemote, progress.BytesDeduplicated);
        Assert.InRange(mostSeen, 0, onRemote); // never the bytes still to compare
        Assert.Equal(seen.Distinct().Count(), seen.Count); // each stage announced once
    }

    [Fact]
    public async Task A_large_file_uploads_while_it_is_still_being_hashed_and_one_the_remote_has_under_another_name_costs_few_questions()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(4242, 48_000_000));

        // Hashing waits, half-way through the one file, for an upload to begin: only runs of
        // chunks sent before the file's hash is known can begin it (the wait fails otherwise).
        var progress = new OperationProgress();
        progress.Read += total =>
        {
            if (total >= 24_000_000)
            {
                Assert.True(SpinWait.SpinUntil(() => progress.BytesToTransfer > 0, TimeSpan.FromSeconds(30)), "nothing was sent before the file was hashed");
            }
        };
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        var first = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20, Progress: progress), None);
        Assert.Equal(48_000_000, first.NewChunkBytes); // each chunk once, though runs and the file were negotiated apart

        // The same content under another name: the first run is found on the remote, so the rest
        // of the file waits for its hash instead of asking about each of its ~730 chunks.
        File.Move(Path.Combine(source, "big.bin"), Path.Combine(source, "renamed.bin"));
        var second = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None);
        Assert.Equal(0, second.NewChunkBytes);
        Assert.InRange(second.Wire.Sent, 0, 730 * 32 / 2);

        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task The_files_left_when_hashing_ends_go_as_a_last_round_beside_the_earlier_ones_not_after_them()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        for (int i = 0; i < 12; i++)
        {
            Files.Write(source, $"a/f{i:D2}.bin", Files.Random(300 + i, 100_000));
        }

        var holding = new HoldPatchesUntilThirdNegotiation();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, holding);
        await remote.CreateAsync(None);
        // Packs of 256 KiB: a round once 128 KiB are hashed (2 files), the next once 512 KiB more are
        // (6 files); 4 files are left when hashing ends. Their round asks about them while the two
        // rounds before it cannot finish: no PATCH is answered until it has asked.
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 256 << 10), None);

        Assert.False(holding.TimedOut, "the last round waited for the earlier ones");
        Assert.True(pushed.Published);
        Assert.Equal(12 * 100_000, pushed.NewChunkBytes);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    /// <summary>Holds every PATCH until the push asks about files for the third time, or for 30 s.</summary>
    private sealed class HoldPatchesUntilThirdNegotiation() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly TaskCompletionSource _asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _negotiations;

        public bool TimedOut { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/missing/files", StringComparison.Ordinal) && Interlocked.Increment(ref _negotiations) == 3)
            {
                _asked.TrySetResult();
            }

            if (request.Method == HttpMethod.Patch && !_asked.Task.IsCompleted)
            {
                try
                {
                    await _asked.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                }
                catch (TimeoutException)
                {
                    TimedOut = true;
                    _asked.TrySetResult();
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task Files_sent_while_the_push_still_hashes_lie_in_path_order_so_a_pull_reads_each_stored_byte_about_once()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        for (int i = 0; i < 9000; i++)
        {
            // Sizes in no relation to paths: packed in size order, every pull batch would span every pack.
            Files.Write(source, $"d{i / 1000}/f{i:D4}.bin", Files.Random(5000 + i, 100 + (int)((uint)i * 2654435761u % 4000)));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        // Packs of 1 MiB: early rounds of 2 MiB while the rest hashes; the pull takes 4096 files at a time.
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None);
        var pulled = await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Files.AssertSameTree(source, target);
        Assert.InRange(pulled.PackBytesRead, pushed.NewChunkBytes, pushed.NewChunkBytes * 12 / 10);
    }

    /// <summary>Counts requests by method and a fragment of their path.</summary>
    private sealed class CountRequests() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly System.Collections.Concurrent.ConcurrentBag<(HttpMethod Method, string Path)> _requests = [];

        public int Count(HttpMethod method, string fragment) => _requests.Count(r => r.Method == method && r.Path.Contains(fragment, StringComparison.Ordinal));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _requests.Add((request.Method, request.RequestUri!.AbsolutePath));
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task Tokens_gate_reads_and_writes_and_the_author_is_the_token_name()
    {
        const string Tokens = """
            {"tokens": [
              {"name": "writer", "token": "writer-token-0123456789", "datasets": {"*": "write"}},
              {"name": "reader", "token": "reader-token-0123456789", "datasets": {"ds": "read"}}
            ]}
            """;
        await using var server = await TestServer.StartAsync(Tokens);
        string source = NewFolder();
        Files.Write(source, "x.bin", Files.Random(7, 5_000));
        using var anonymous = new HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"{server.BaseUrl}/v1/datasets/ds/refs")).StatusCode);

        await using (var writer = new HttpRemote(new Uri(server.DatasetUrl("ds")), "writer-token-0123456789"))
        {
            await writer.CreateAsync(None);
            var pushed = await PushOperation.PushAsync(source, writer, new PushOptions(Author: "claims-to-be-someone-else"), None);
            var history = await writer.HistoryAsync(pushed.VersionId, 1, None);
            Assert.Equal("writer", history[0].Record.Author);
        }

        await using var reader = new HttpRemote(new Uri(server.DatasetUrl("ds")), "reader-token-0123456789");
        Assert.NotNull(await reader.GetBranchAsync("main", None));
        Files.Write(source, "y.bin", Files.Random(8, 5_000));
        var denied = await Assert.ThrowsAsync<InvalidInputException>(() => PushOperation.PushAsync(source, reader, new PushOptions(), None));
        Assert.Contains("403", denied.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_token_cannot_write_through_a_name_that_looks_like_a_read_endpoint()
    {
        const string Tokens = """
            {"tokens": [{"name": "reader", "token": "reader-token-0123456789", "datasets": {"*": "read"}}]}
            """;
        await using var server = await TestServer.StartAsync(Tokens);
        using var reader = new HttpClient();
        reader.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "reader-token-0123456789");

        // Branch and tag names may contain "/missing/", and "missing" is a valid dataset name.
        var writes = new[]
        {
            (HttpMethod.Put, "/v1/datasets/ds/branches/a/missing/b"),
            (HttpMethod.Put, "/v1/datasets/ds/tags/missing/x"),
            (HttpMethod.Post, "/v1/datasets/missing"),
            (HttpMethod.Post, "/v1/datasets/missing/publish"),
            (HttpMethod.Post, "/v1/datasets/missing/files"),
            (HttpMethod.Post, "/v1/datasets/missing/nodes"),
            (HttpMethod.Post, "/v1/datasets/missing/uploads"),
            (HttpMethod.Post, "/v1/datasets/missing/forget"),
        };
        foreach (var (method, path) in writes)
        {
            using var request = new HttpRequestMessage(method, server.BaseUrl + path) { Content = new StringContent("{\"record\": null, \"expected\": null}") };
            using var response = await reader.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} answered {(int)response.StatusCode}");
        }

        foreach (string readPath in new[] { "/v1/datasets/missing/missing/files", "/v1/datasets/missing/nodes/lookup" })
        {
            using var hashes = new ByteArrayContent(new byte[32]);
            using var read = await reader.PostAsync(server.BaseUrl + readPath, hashes);
            Assert.NotEqual(HttpStatusCode.Forbidden, read.StatusCode);
        }
    }

    [Fact]
    public async Task Without_tokens_the_server_refuses_to_listen_beyond_loopback()
    {
        var settings = new Hosting.ServerSettings(NewFolder(), ["http://0.0.0.0:0"], null);

        var error = Assert.Throws<InvalidInputException>(() => Hosting.ServerApp.Build(settings));
        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_file_that_gives_one_token_twice_is_refused_without_printing_it()
    {
        string folder = NewFolder();
        string file = Path.Combine(folder, "tokens.json");
        File.WriteAllText(file, """
            {"tokens": [
              {"name": "reader", "token": "shared-secret-0123456789", "datasets": {"*": "read"}},
              {"name": "writer", "token": "shared-secret-0123456789", "datasets": {"*": "write"}}
            ]}
            """);

        var error = Assert.Throws<InvalidInputException>(() => Hosting.ServerApp.Build(new Hosting.ServerSettings(Path.Combine(folder, "root"), ["http://127.0.0.1:0"], file)));

        Assert.Contains("'reader' and 'writer'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("shared-secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_download_that_stalls_is_aborted_and_retried()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(9, 500_000));
        await using (var push = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await push.CreateAsync(None);
            await PushOperation.PushAsync(source, push, new PushOptions(), None);
        }

        var stalling = new StallOnce();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, stalling, stallTimeout: TimeSpan.FromSeconds(1));
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.True(stalling.Stalled);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task An_upload_that_stalls_mid_piece_is_aborted_and_resumed()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(19, 3_000_000)); // one pack in two pieces of 2 MiB

        var stalling = new StallUploadOnce(afterBytes: 1_500_000);
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, stalling, stallTimeout: TimeSpan.FromSeconds(1));
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.True(stalling.Stalled);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_push_that_dies_mid_pack_resumes_the_pack_from_the_server_offset()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(10, 30_000_000));

        // The process "dies" at the sixth PATCH (2 MiB pieces). Each of the (up to four) upload lanes
        // has at most one PATCH out, so at least two had been accepted: 4 MiB.
        long accepted = (await CreateThenPushUntilPatchAsync(server, source, 6, new PushOptions(PackSize: 20 << 20))).AcceptedBytes;
        Assert.InRange(accepted, 4 << 20, 30_000_000);

        Assert.NotEmpty(UploadCheckpoints(source));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        var resumed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 20 << 20), None);

        // Two upload lanes, each with up to two packs begun, so up to four packs resume.
        Assert.InRange(resumed.ResumedPacks, 1, 4);
        // Only what the server lacked was sent again: what it had accepted was not sent twice.
        Assert.InRange(resumed.Wire.Sent, 1, 30_000_000 - accepted + 100_000);
        Assert.Empty(UploadCheckpoints(source));
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_push_with_compression_off_stores_every_chunk_raw_and_pulls_back_the_same_files()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), raw = NewFolder(), compressed = NewFolder();
        Files.Write(source, "logs/a.txt", Files.Text(1, 3_000_000));
        Files.Write(source, "blobs/b.bin", Files.Random(2, 1_000_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("raw")), null);
        await remote.CreateAsync(None);
        await using var other = new HttpRemote(new Uri(server.DatasetUrl("compressed")), null);
        await other.CreateAsync(None);

        var off = await PushOperation.PushAsync(source, remote, new PushOptions(Compression: Compression.Off), None);
        Directory.Delete(Path.Combine(source, ".merklesync"), recursive: true); // the next push must send everything again
        var auto = await PushOperation.PushAsync(source, other, new PushOptions(), None);

        // Stored: every chunk raw behind its 8-byte frame, plus header and index; compressed, the text shrinks to about a third.
        Assert.Equal(4_000_000, off.NewChunkBytes);
        Assert.InRange(off.BytesWritten, off.NewChunkBytes, off.NewChunkBytes + (off.ChunksNew * 80) + 1000);
        Assert.InRange(auto.BytesWritten, 1_000_000, 2_500_000);
        Assert.Equal(off.Root, auto.Root);
        await PullOperation.PullAsync(remote, raw, new PullOptions(), None);
        await PullOperation.PullAsync(other, compressed, new PullOptions(), None);
        Files.AssertSameTree(source, raw);
        Files.AssertSameTree(source, compressed);
    }

    [Fact]
    public async Task A_pack_begun_without_compression_resumes_without_it_whatever_the_next_push_asks()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.txt", Files.Text(10, 30_000_000));
        await CreateThenPushUntilPatchAsync(server, source, 6, new PushOptions(PackSize: 20 << 20, Compression: Compression.Off));

        Assert.All(UploadCheckpoints(source), c => Assert.Equal(Compression.Off, c.Compression));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        var resumed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 20 << 20), None);

        // Rebuilt compressed, a half-sent raw pack would not continue the bytes the server has: it would be given up.
        Assert.InRange(resumed.ResumedPacks, 1, 4);
        Assert.Empty(UploadCheckpoints(source));
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_half_sent_pack_whose_source_changed_is_given_up_and_the_push_sends_the_new_content()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(13, 30_000_000));
        await CreateThenPushUntilPatchAsync(server, source, 2, new PushOptions(PackSize: 20 << 20));

        Files.Write(source, "big.bin", Files.Random(14, 30_000_000)); // the pack cannot be rebuilt from this
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 20 << 20), None);

        Assert.Equal(0, pushed.ResumedPacks);
        Assert.Empty(UploadCheckpoints(source));
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_file_edited_or_deleted_after_it_was_hashed_stops_the_push_with_a_clear_error_and_nothing_is_published(bool delete)
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        string file = Path.Combine(source, "big.bin");
        Files.Write(source, "big.bin", Files.Random(15, 3_000_000));
        await using (var setup = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await setup.CreateAsync(None);
        }

        // A remote that does not answer for the dataset is not named origin.
        await using (var wrong = new HttpRemote(new Uri(server.DatasetUrl("no-such-dataset")), null))
        {
            await Assert.ThrowsAsync<NotFoundException>(() => PushOperation.PushAsync(source, wrong, new PushOptions(), None));
            using var state = ClientStateStore.OpenToRead(source);
            Assert.Null(state.GetRemote("origin"));
        }

        // Between the snapshot and the upload: same size, other bytes; or no file at all.
        await using (var editing = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new EditBeforeChunkNegotiation(file, delete ? null : Files.Random(16, 3_000_000))))
        {
            var error = await Assert.ThrowsAsync<InvalidInputException>(() => PushOperation.PushAsync(source, editing, new PushOptions(), None));
            Assert.Contains("changed while being pushed", error.Message, StringComparison.Ordinal);
            Assert.Null(await editing.GetBranchAsync("main", None));
            using var state = ClientStateStore.OpenToRead(source); // the remote answered: a re-run needs no URL
            Assert.Equal(editing.Url, state.GetRemote("origin"));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_large_file_edited_or_deleted_while_its_first_chunks_are_sent_stops_the_push_and_nothing_is_published(bool delete)
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        string file = Path.Combine(source, "big.bin");
        Files.Write(source, "big.bin", Files.Random(21, 40_000_000));
        await using (var setup = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await setup.CreateAsync(None);
        }

        // The first question about its chunks comes while the file is still being hashed (packs of
        // 1 MiB: a round after half a megabyte); the file changes or vanishes right then.
        await using (var editing = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new EditBeforeChunkNegotiation(file, delete ? null : Files.Random(22, 40_000_000))))
        {
            var error = await Assert.ThrowsAnyAsync<MerkleSyncException>(() => PushOperation.PushAsync(source, editing, new PushOptions(PackSize: 1 << 20), None));
            Assert.Contains("changed while being pushed", error.Message, StringComparison.Ordinal);
            Assert.Null(await editing.GetBranchAsync("main", None));
        }

        if (delete)
        {
            Files.Write(source, "big.bin", Files.Random(23, 40_000_000));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_push_after_one_edit_asks_only_about_the_changed_file_not_every_file()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        for (int i = 0; i < 2000; i++)
        {
            Files.Write(source, $"d{i % 20:D2}/f{i:D4}.bin", Files.Random(1000 + i, 300));
        }

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        await remote.CreateAsync(None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        Files.Write(source, "d07/f0007.bin", Files.Random(99, 300));

        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        Assert.True(pushed.Published);
        Assert.InRange(pushed.Wire.Sent, 1, 2000 * Core.Hashing.Hash.Size / 2); // asking about all 2000 files alone would send 64 KB
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    /// <summary>Rewrites the file with <paramref name="content"/>, or deletes it if null, when the push asks which chunks are missing.</summary>
    private sealed class EditBeforeChunkNegotiation(string path, byte[]? content) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/missing/chunks", StringComparison.Ordinal))
            {
                if (content is null)
                {
                    File.Delete(path);
                }
                else
                {
                    File.WriteAllBytes(path, content);
                }
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    private static IReadOnlyList<UploadCheckpoint> UploadCheckpoints(string dataset)
    {
        using var state = MerkleSync.Core.ClientState.ClientStateStore.Open(dataset);
        return state.List();
    }

    /// <summary>Creates dataset "ds", then runs a push whose process "dies" at PATCH number <paramref name="patch"/>; returns the death (what the server accepted).</summary>
    private static async Task<DieAtPatch> CreateThenPushUntilPatchAsync(TestServer server, string source, int patch, PushOptions options)
    {
        await using (var setup = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await setup.CreateAsync(None);
        }

        var death = new DieAtPatch(patch);
        await using (var dying = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, death))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => PushOperation.PushAsync(source, dying, options, None));
        }

        return death;
    }

    private sealed class DieAtPatch(int patchNumber) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _patches;
        private long _accepted;

        /// <summary>Body bytes of the PATCHes the server accepted: what it holds of the packs.</summary>
        public long AcceptedBytes => Interlocked.Read(ref _accepted);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method != HttpMethod.Patch)
            {
                return await base.SendAsync(request, cancellationToken);
            }

            if (Interlocked.Increment(ref _patches) == patchNumber)
            {
                throw new InvalidOperationException("simulated crash");
            }

            long length = request.Content?.Headers.ContentLength ?? 0;
            var response = await base.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Add(ref _accepted, length);
            }

            return response;
        }
    }

    [Fact]
    public async Task A_server_that_answers_429_slows_the_push_down_and_the_push_still_succeeds()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(12, 30_000_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new ThrottleEveryOtherPatch());
        await remote.CreateAsync(None);

        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 32 << 20), None);

        Assert.True(pushed.Pacing.Throttles > 0);
        Assert.True(pushed.Pacing.Backoffs > 0);
        // Each refused PATCH is retried once and then goes through: a retried request carries its body again.
        Assert.Equal(pushed.Pacing.Throttles, pushed.Pacing.Retries);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task A_server_that_fails_every_upload_stops_the_push_with_its_status_and_publishes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "big.bin", Files.Random(13, 5_000_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new FailEveryPatch());
        await remote.CreateAsync(None);

        // As a server whose disk is full answers: the push must say what the server said, not what
        // its own retries tripped over.
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => PushOperation.PushAsync(source, remote, new PushOptions(), None).WaitAsync(TimeSpan.FromSeconds(120)));

        Assert.Contains("500", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("closed", failure.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(await remote.GetBranchAsync("main", None));
    }

    /// <summary>Answers every PATCH with 500, as a server that cannot write would.</summary>
    private sealed class FailEveryPatch() : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            request.Method == HttpMethod.Patch
                ? Task.FromResult(new HttpResponseMessage(HttpStatusCode.InternalServerError) { RequestMessage = request, Content = new StringContent("No space left on device") })
                : base.SendAsync(request, cancellationToken);
    }

    [Fact]
    public async Task Packs_that_the_server_is_slow_to_finish_do_not_stall_the_lanes_that_wait_for_upload_buffers()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "big.bin", Files.Random(40, 64_000_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, new SlowLastPatch());
        await remote.CreateAsync(None);

        // Four lanes of 2 MiB packs, each filled in two upload buffers and finished holding one. With
        // finishes this slow, the lanes want more buffers than a push may hold, so a finished pack must
        // give its buffer back at once, not when its lane next looks at its finished packs.
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 2 << 20), None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(pushed.Published);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    /// <summary>Delays the answer to each pack's last PATCH, as a server busy finishing packs would.</summary>
    private sealed class SlowLastPatch() : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Patch && request.Headers.Contains("Upload-Length"))
            {
                await Task.Delay(300, cancellationToken);
            }

            return response;
        }
    }

    /// <summary>Refuses every other PATCH with 429 and Retry-After: 0, as a busy server would.</summary>
    private sealed class ThrottleEveryOtherPatch() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _patches;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Patch && Interlocked.Increment(ref _patches) % 2 == 1)
            {
                var busy = new HttpResponseMessage(HttpStatusCode.TooManyRequests) { Content = new StringContent("{\"error\": \"busy\"}") };
                busy.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.Zero);
                return Task.FromResult(busy);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>The first pack download sends headers, then no body bytes at all.</summary>
    private sealed class StallOnce() : DelegatingHandler(new SocketsHttpHandler())
    {
        public bool Stalled { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (!Stalled && request.RequestUri!.AbsolutePath.Contains("/packs/", StringComparison.Ordinal))
            {
                Stalled = true;
                response.Content = new StreamContent(new NeverStream());
            }

            return response;
        }

        private sealed class NeverStream : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return 0;
            }
        }
    }

    /// <summary>The first upload piece sends some of its body, then no more bytes at all.</summary>
    private sealed class StallUploadOnce(int afterBytes) : DelegatingHandler(new SocketsHttpHandler())
    {
        public bool Stalled { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!Stalled && request.Method == HttpMethod.Patch && request.Content is { } content)
            {
                Stalled = true;
                request.Content = new StallingContent(content, afterBytes);
            }

            return base.SendAsync(request, cancellationToken);
        }

        private sealed class StallingContent(HttpContent inner, int afterBytes) : HttpContent
        {
            protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
                inner.CopyToAsync(new StallingStream(stream, afterBytes));

            protected override bool TryComputeLength(out long length)
            {
                length = inner.Headers.ContentLength ?? 0;
                return inner.Headers.ContentLength is not null;
            }
        }

        private sealed class StallingStream(Stream inner, int afterBytes) : Stream
        {
            private int _left = afterBytes;

            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() => inner.Flush();
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                int pass = Math.Min(_left, buffer.Length);
                await inner.WriteAsync(buffer[..pass], cancellationToken);
                _left -= pass;
                if (pass < buffer.Length)
                {
                    await inner.FlushAsync(cancellationToken);
                    await Task.Delay(Timeout.Infinite, cancellationToken); // until the watchdog gives up on the transfer
                }
            }
        }
    }

    /// <summary>Answers 400 to plan requests for several files (the small files' batches) and delays each pack read by 150 ms.</summary>
    private sealed class RefuseBatchPlansAndSlowPackReads() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _packReads;

        public int PackReads => Volatile.Read(ref _packReads);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string path = request.RequestUri!.AbsolutePath;
            if (path.EndsWith("/files/reconstructions", StringComparison.Ordinal) && request.Content?.Headers.ContentLength > 32)
            {
                return new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new StringContent("""{"error":"no plans for batches"}""", System.Text.Encoding.UTF8, "application/json") };
            }

            if (path.Contains("/packs/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _packReads);
                await Task.Delay(150, cancellationToken);
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// Runs one gc on the server before pack read number <paramref name="readsBefore"/> + 1 goes
    /// through (by default the first; a pull reads several packs at once).
    /// </summary>
    private sealed class GarbageCollectionBeforeFirstPackRead(string gcUrl, int readsBefore = 0) : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly SemaphoreSlim _once = new(1);
        private int _reads;

        public string Report { get; private set; } = "";

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.Contains("/packs/", StringComparison.Ordinal))
            {
                await _once.WaitAsync(cancellationToken);
                try
                {
                    if (Report.Length == 0 && _reads++ == readsBefore)
                    {
                        using var gc = await base.SendAsync(new HttpRequestMessage(HttpMethod.Post, gcUrl), cancellationToken);
                        Report = await gc.EnsureSuccessStatusCode().Content.ReadAsStringAsync(cancellationToken);
                    }
                }
                finally
                {
                    _once.Release();
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            _once.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Stands between client and server like a broken proxy.</summary>
    private sealed class MisbehavingProxy(bool stripRange, bool truncate) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            bool isPack = request.RequestUri!.AbsolutePath.Contains("/packs/", StringComparison.Ordinal);
            if (stripRange && isPack)
            {
                request.Headers.Range = null;
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (truncate && isPack)
            {
                byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                var cut = new ByteArrayContent(body, 0, body.Length / 2);
                foreach (var header in response.Content.Headers.Where(h => h.Key != "Content-Length"))
                {
                    cut.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content = cut;
            }

            return response;
        }
    }
}
