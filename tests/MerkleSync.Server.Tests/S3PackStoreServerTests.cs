using System.Net;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Verification;
using MerkleSync.Testing;

namespace MerkleSync.Server.Tests;

/// <summary>A server started with --pack-store: each dataset's packs in S3 (a real s3rver on loopback), served to clients in ranges.</summary>
public class S3PackStoreServerTests : FolderTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Push_pull_and_verify_through_a_server_whose_packs_are_in_S3()
    {
        await using var s3 = await S3TestServer.StartAsync();
        await using var server = await TestServer.StartAsync(packStore: s3.Location("server"));
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "a/big.bin", Files.Random(1, 900_000));
        Files.Write(source, "b/small.txt", "hello"u8.ToArray());
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);

        await PushOperation.PushAsync(source, remote, new PushOptions(Message: "one"), None);
        Files.Write(source, "b/small.txt", "hello, world"u8.ToArray());
        var second = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "two"), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        var versions = await remote.HistoryAsync(second.VersionId, 10, None);
        var report = await RemoteVerifier.VerifyAsync(remote, versions, PackSubset.All, null, None);

        Files.AssertSameTree(source, target);
        Assert.True(report.Ok, string.Join("; ", report.Problems.Select(p => p.Message)));
        Assert.Equal(2, report.PacksRead);
        string[] objects = Directory.GetFiles(Path.Combine(s3.DataFolder, S3TestServer.Bucket, "server", "ds", "packs"), "*.pack._S3rver_object", SearchOption.AllDirectories);
        Assert.Equal(2, objects.Length);
        Assert.Empty(Directory.EnumerateFiles(server.Root, "*.pack", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task While_the_pack_store_is_down_a_push_gets_503_and_publishes_nothing_and_once_it_is_back_the_push_completes()
    {
        await using var s3 = await S3TestServer.StartAsync();
        await using var server = await TestServer.StartAsync(packStore: s3.Location("server"));
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "a/big.bin", Files.Random(2, 900_000));
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);

        await s3.StopAsync();
        var error = await Assert.ThrowsAnyAsync<IOException>(() => PushOperation.PushAsync(source, remote, new PushOptions(), None));
        var refsWhileDown = await remote.ListRefsAsync(None);
        await s3.RestartAsync();
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.Contains("503", error.Message, StringComparison.Ordinal);
        Assert.Contains("pack store is unavailable", error.Message, StringComparison.Ordinal);
        Assert.Empty(refsWhileDown);
        Files.AssertSameTree(source, target);
    }

    [Fact]
    public async Task Pack_ranges_come_from_S3_exactly_an_unsatisfiable_one_is_416_and_several_get_the_whole_pack()
    {
        await using var s3 = await S3TestServer.StartAsync();
        await using var server = await TestServer.StartAsync(packStore: s3.Location("server"));
        string source = NewFolder();
        Files.Write(source, "big.bin", Files.Random(4, 3_000_000));
        await using (var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await remote.CreateAsync(None);
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        }

        string pack = Directory.EnumerateFiles(s3.DataFolder, "*.pack._S3rver_object", SearchOption.AllDirectories).Single();
        byte[] bytes = await File.ReadAllBytesAsync(pack);
        string url = $"{server.BaseUrl}/v1/datasets/ds/packs/{Path.GetFileName(pack).Split('.')[0]}";
        using var http = new HttpClient();
        async Task<HttpResponseMessage> GetAsync(string range)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Range", range);
            return await http.SendAsync(request);
        }

        foreach (var (range, start, end) in new[] { ("bytes=5-4100", 5, 4100), ("bytes=4095-", 4095, bytes.Length - 1), ("bytes=-3000", bytes.Length - 3000, bytes.Length - 1) })
        {
            using var part = await GetAsync(range);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal(start, part.Content.Headers.ContentRange!.From);
            Assert.Equal(bytes.Length, part.Content.Headers.ContentRange.Length);
            Assert.Equal(bytes.AsSpan(start, end - start + 1).ToArray(), await part.Content.ReadAsByteArrayAsync());
        }

        using var refused = await GetAsync($"bytes={bytes.Length}-");
        using var several = await GetAsync("bytes=0-9,20-29");
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, several.StatusCode);
        Assert.Equal(bytes, await several.Content.ReadAsByteArrayAsync());
    }
}
