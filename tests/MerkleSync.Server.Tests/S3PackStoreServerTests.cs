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
        var report = await RemoteVerifier.VerifyAsync(remote, versions, readData: true, None);

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
}
