using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Verification;
using MerkleSync.Testing;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>
/// A file:// repository whose packs live in S3 (a real s3rver on loopback): the engine works the
/// same, keeps no pack locally, and still finds damage in what S3 returns.
/// </summary>
public sealed class S3PackStoreTests(S3PackStoreTests.Server server) : IClassFixture<S3PackStoreTests.Server>
{
    public sealed class Server : IAsyncLifetime
    {
        public S3TestServer S3 { get; private set; } = null!;

        public async Task InitializeAsync() => S3 = await S3TestServer.StartAsync();

        public async Task DisposeAsync() => await S3.DisposeAsync();
    }

    private static readonly CancellationToken None = CancellationToken.None;

    private async Task<(string Repo, string Prefix)> PushSampleAsync(TempFolder temp)
    {
        string source = temp.Sub("source"), repo = temp.Sub("repo"), prefix = $"r{Guid.NewGuid():N}";
        DatasetFiles.WriteSample(source);
        (await Core.Repository.Repository.InitAsync(repo, S3Location.Parse(server.S3.Location(prefix)), None)).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        return (repo, prefix);
    }

    private string[] StoredPacks(string prefix) =>
        Directory.GetFiles(Path.Combine(server.S3.DataFolder, S3TestServer.Bucket, prefix, "packs"), "*.pack._S3rver_object", SearchOption.AllDirectories);

    [Fact]
    public async Task Push_pull_and_verify_with_read_data_work_and_every_pack_is_in_the_bucket()
    {
        using var temp = new TempFolder();
        var (repo, prefix) = await PushSampleAsync(temp);
        string target = temp.Sub("target");

        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        }

        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        var report = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);

        Assert.Equal(DatasetFiles.Describe(temp.Sub("source")), DatasetFiles.Describe(target));
        Assert.True(report.Ok, string.Join("; ", report.Problems.Select(p => p.Message)));
        Assert.True(report.PacksRead >= 1);
        Assert.Equal(repository.ListPacks().Count(), StoredPacks(prefix).Length);
        Assert.Empty(Directory.EnumerateFiles(repo, "*.pack", SearchOption.AllDirectories));
        Assert.Equal(server.S3.Location(prefix), repository.PackStore?.ToString());
    }

    [Fact]
    public async Task Gc_rewrites_a_mostly_dead_pack_in_the_bucket_and_the_survivors_still_pull()
    {
        using var temp = new TempFolder();
        string prefix = $"r{Guid.NewGuid():N}";

        await VerifyAndGcTests.GcRewritesAMostlyDeadPackAsync(temp, async repo =>
            (await Core.Repository.Repository.InitAsync(repo, S3Location.Parse(server.S3.Location(prefix)), None)).Dispose());

        Assert.Single(StoredPacks(prefix)); // the rewritten pack; the old one is deleted from the bucket
    }

    [Fact]
    public async Task A_flipped_byte_in_a_pack_in_the_bucket_is_found_never_reaches_a_pulled_file_and_is_repaired()
    {
        using var temp = new TempFolder();
        var (repo, prefix) = await PushSampleAsync(temp);
        string packObject = StoredPacks(prefix).Single();
        byte[] bytes = File.ReadAllBytes(packObject);
        bytes[PackFormat.HeaderLength + 1000] ^= 0x01; // inside the first chunk
        File.WriteAllBytes(packObject, bytes);

        using (var repository = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            var full = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
            Assert.False(full.Ok);
            Assert.Single(full.Problems, p => p.Subject.StartsWith("chunk", StringComparison.Ordinal));
        }

        string target = temp.Sub("target");
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await Assert.ThrowsAsync<CorruptDataException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));
        Assert.False(Directory.Exists(target)); // a first pull that failed leaves no folder, nor any file

        // Repaired in the bucket, and made whole again by a full push from the source.
        var opened = ((LocalRemote)remote).Repository;
        var repair = await opened.RepairPackAsync(Core.Hashing.Hash.Parse(Path.GetFileName(packObject)[..64]), None);
        await PushOperation.PushAsync(temp.Sub("source"), remote, new PushOptions(Full: true), None);
        var healed = await RepositoryVerifier.VerifyAsync(opened, null, PackSubset.All, null, None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);

        Assert.Equal(1, repair.ChunksLost);
        Assert.DoesNotContain(StoredPacks(prefix), p => p == packObject);
        Assert.True(healed.Ok, string.Join("; ", healed.Problems.Select(p => p.Message)));
        Assert.Equal(DatasetFiles.Describe(temp.Sub("source")), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_bucket_that_does_not_exist_is_a_clear_error_and_no_repository_is_made()
    {
        using var temp = new TempFolder();
        string repo = temp.Sub("repo");
        string missing = server.S3.Location("x").Replace(S3TestServer.Bucket, "no-such-bucket", StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<NotFoundException>(() => Core.Repository.Repository.InitAsync(repo, S3Location.Parse(missing), None));

        Assert.Contains("no-such-bucket", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(repo));
    }

    [Fact]
    public async Task While_the_store_is_down_a_push_fails_naming_it_and_publishes_nothing()
    {
        using var temp = new TempFolder();
        var (repo, prefix) = await PushSampleAsync(temp);
        DatasetFiles.Write(temp.Sub("source"), "new.bin", DatasetFiles.Random(9, 200_000));

        await server.S3.StopAsync();
        StoreUnavailableException error;
        try
        {
            error = await Assert.ThrowsAsync<StoreUnavailableException>(async () =>
            {
                await using var remote = await RemoteUrl.OpenAsync(repo, None);
                await PushOperation.PushAsync(temp.Sub("source"), remote, new PushOptions(), None);
            });
        }
        finally
        {
            await server.S3.RestartAsync();
        }

        // The pack the push stored (or not) is unsettled: the repository did not close clean, so the next open lists the bucket.
        using (var db = RocksStore.Open(Path.Combine(repo, Core.Repository.Repository.DatabaseFolder), Core.Repository.Repository.Families.All, createIfMissing: false, readOnly: true))
        {
            Assert.Null(db.Get(Core.Repository.Repository.Families.Meta, Core.Repository.Repository.ClosedCleanKey));
        }

        await using var reopened = await RemoteUrl.OpenAsync(repo, None);
        Assert.Contains(server.S3.Location(prefix), error.Message, StringComparison.Ordinal);
        Assert.Single(await reopened.HistoryAsync((await reopened.ResolveAsync("main", None)).Id, 10, None));
    }
}
