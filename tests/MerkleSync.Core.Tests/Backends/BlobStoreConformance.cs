using Amazon.Runtime;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Testing;

namespace MerkleSync.Core.Tests.Backends;

/// <summary>
/// The contract of <see cref="IBlobStore"/> (see its remarks), run against every store: the engine
/// must not be able to tell them apart.
/// </summary>
public abstract class BlobStoreConformance : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly TempFolder _temp = new();

    /// <summary>The local folder a store may stage in: the file-system store's own (its root is the temp folder).</summary>
    private string Staging => _temp.Sub(BlobKeys.StagingFolder);

    /// <summary>A new, empty store; <paramref name="staging"/> is a local folder it may use.</summary>
    protected abstract IBlobStore NewStore(string staging);

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task PutAsync(IBlobStore store, string key, byte[] content)
    {
        await using var writer = await store.CreateAsync(None);
        await writer.Content.WriteAsync(content, None);
        await writer.CommitAsync(key, None);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, None);
            return copy.ToArray();
        }
    }

    [Fact]
    public async Task A_committed_blob_reads_back_whole_at_offsets_and_in_ranges()
    {
        var store = NewStore(Staging);
        byte[] content = Bytes(300_000, 1);
        await PutAsync(store, "packs/ab/one.pack", content);

        Assert.Equal(content.Length, await store.GetLengthAsync("packs/ab/one.pack", None));
        Assert.Equal(content, await ReadAllAsync(await store.OpenReadAsync("packs/ab/one.pack", None)));
        Assert.Equal(content.AsSpan(12_345, 70_000).ToArray(), await ReadAllAsync(await store.OpenReadAsync("packs/ab/one.pack", 12_345, 70_000, None)));
        var buffer = new byte[5000];
        Assert.Equal(5000, await store.ReadAsync("packs/ab/one.pack", 100_000, buffer, None));
        Assert.Equal(content.AsSpan(100_000, 5000).ToArray(), buffer);
    }

    [Fact]
    public async Task Reads_that_run_past_the_end_are_short_and_reads_at_the_end_are_empty()
    {
        var store = NewStore(Staging);
        byte[] content = Bytes(10_000, 2);
        await PutAsync(store, "b", content);
        var buffer = new byte[4096];

        Assert.Equal(1000, await store.ReadAsync("b", 9000, buffer, None));
        Assert.Equal(content.AsSpan(9000).ToArray(), buffer.AsSpan(0, 1000).ToArray());
        Assert.Equal(0, await store.ReadAsync("b", 10_000, buffer, None));
        Assert.Equal(content.AsSpan(9000).ToArray(), await ReadAllAsync(await store.OpenReadAsync("b", 9000, 4096, None)));
    }

    [Fact]
    public async Task Until_commit_nothing_is_visible_and_a_writer_disposed_uncommitted_leaves_nothing()
    {
        string staging = Staging;
        var store = NewStore(staging);
        await using (var writer = await store.CreateAsync(None))
        {
            await writer.Content.WriteAsync(Bytes(1000, 3), None);
            Assert.Empty(await store.ListAsync("", None).ToListAsync());
        }

        Assert.Empty(await store.ListAsync("", None).ToListAsync());
        Assert.Null(await store.GetLengthAsync("never", None));
        Assert.True(!Directory.Exists(staging) || Directory.GetFiles(staging).Length == 0);
    }

    [Fact]
    public async Task Missing_blobs_are_not_found_and_deleting_one_is_no_error()
    {
        var store = NewStore(Staging);

        Assert.Null(await store.GetLengthAsync("packs/missing", None));
        await Assert.ThrowsAsync<NotFoundException>(async () => await store.ReadAsync("packs/missing", 0, new byte[10], None));
        await Assert.ThrowsAsync<NotFoundException>(async () => await ReadAllAsync(await store.OpenReadAsync("packs/missing", None)));
        await store.DeleteAsync("packs/missing", None);
    }

    [Fact]
    public async Task Committing_a_key_again_leaves_one_blob_and_delete_removes_it()
    {
        var store = NewStore(Staging);
        byte[] content = Bytes(2000, 4);
        await PutAsync(store, "packs/x", content);
        await PutAsync(store, "packs/x", content);

        Assert.Equal(["packs/x"], await store.ListAsync("packs", None).ToListAsync());
        await store.DeleteAsync("packs/x", None);
        Assert.Null(await store.GetLengthAsync("packs/x", None));
        Assert.Empty(await store.ListAsync("packs", None).ToListAsync());
    }

    [Fact]
    public async Task Importing_a_file_stores_it_and_takes_the_file()
    {
        var store = NewStore(Staging);
        string file = Path.Combine(_temp.Sub("uploads"), "upload.bin");
        Directory.CreateDirectory(_temp.Sub("uploads"));
        byte[] content = Bytes(50_000, 5);
        await File.WriteAllBytesAsync(file, content);

        await store.ImportFileAsync("packs/imported", file, None);

        Assert.False(File.Exists(file));
        Assert.Equal(content, await ReadAllAsync(await store.OpenReadAsync("packs/imported", None)));
    }

    [Fact]
    public async Task Listing_returns_every_key_under_the_prefix_and_none_beside_it()
    {
        var store = NewStore(Staging);
        string[] packs = [.. Enumerable.Range(0, 7).Select(i => $"packs/{i % 3}/p{i}")];
        foreach (string key in packs)
        {
            await PutAsync(store, key, Bytes(10, key.Length));
        }

        await PutAsync(store, "packsx/not-this", Bytes(10, 0));
        await PutAsync(store, "other", Bytes(10, 0));

        Assert.Equal(packs.Order(), (await store.ListAsync("packs", None).ToListAsync()).Order());
        Assert.Equal(packs.Order(), (await store.ListAsync("packs/", None).ToListAsync()).Order());
        Assert.Equal(9, (await store.ListAsync("", None).ToListAsync()).Count);
        Assert.Empty(await store.ListAsync("none", None).ToListAsync());
    }

    [Fact]
    public async Task Staged_blobs_a_crash_left_are_removed()
    {
        string staging = Staging;
        var store = NewStore(staging);
        var writer = await store.CreateAsync(None); // never committed nor disposed: the process "died"
        await writer.Content.WriteAsync(Bytes(100, 6), None);
        await writer.Content.FlushAsync(None);
        Assert.NotEmpty(Directory.GetFiles(staging));

        var reopened = NewStoreOverSame(staging, store);
        reopened.RemoveAbandonedStaging();

        Assert.Empty(Directory.GetFiles(staging));
        Assert.Empty(await reopened.ListAsync("", None).ToListAsync());
        await writer.DisposeAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("a//b")]
    [InlineData("Upper")]
    [InlineData("tmp/x")]
    public async Task Invalid_keys_are_refused(string key)
    {
        var store = NewStore(Staging);
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetLengthAsync(key, None));
    }

    /// <summary>A second store over the same blobs and staging folder, as a process opening it after a crash.</summary>
    protected abstract IBlobStore NewStoreOverSame(string staging, IBlobStore first);
}

public sealed class FileSystemBlobStoreConformance : BlobStoreConformance
{
    protected override IBlobStore NewStore(string staging) => new FileSystemBlobStore(Path.GetDirectoryName(staging)!);

    protected override IBlobStore NewStoreOverSame(string staging, IBlobStore first) => new FileSystemBlobStore(Path.GetDirectoryName(staging)!);
}

/// <summary>The same contract against a real S3-compatible server (s3rver) on loopback, listing in pages of two keys.</summary>
public sealed class S3BlobStoreConformance(S3BlobStoreConformance.Server server) : BlobStoreConformance, IClassFixture<S3BlobStoreConformance.Server>
{
    public sealed class Server : IAsyncLifetime
    {
        public S3TestServer S3 { get; private set; } = null!;

        public async Task InitializeAsync() => S3 = await S3TestServer.StartAsync();

        public async Task DisposeAsync() => await S3.DisposeAsync();
    }

    private static readonly BasicAWSCredentials Credentials = new(S3TestServer.AccessKey, S3TestServer.SecretKey);

    // Each test its own prefix: the tests share one bucket.
    protected override IBlobStore NewStore(string staging) =>
        new S3BlobStore(S3Location.Parse(server.S3.Location($"t{Guid.NewGuid():N}")), staging, Credentials) { ListPageSize = 2 };

    protected override IBlobStore NewStoreOverSame(string staging, IBlobStore first) =>
        new S3BlobStore(((S3BlobStore)first).Location, staging, Credentials) { ListPageSize = 2 };
}
