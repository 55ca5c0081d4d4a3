using MerkleSync.Core.Statistics;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Statistics;

public class DatasetStatsTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Counts_what_versions_restore_once_per_version_and_what_they_store_once()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        byte[] shared = DatasetFiles.Random(3, 300_000), text = DatasetFiles.Text(4, 200_000);
        DatasetFiles.Write(source, "a.bin", shared);
        DatasetFiles.Write(source, "copy/a.bin", shared); // the same file twice: one distinct file
        DatasetFiles.Write(source, "notes.txt", text);
        DatasetFiles.Write(source, "empty", []);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var v1 = await remote.ResolveAsync("main", None);
        DatasetFiles.Write(source, "new.bin", DatasetFiles.Random(5, 100_000));
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var v2 = await remote.ResolveAsync("main", None);

        var first = await DatasetStats.CollectAsync(remote, [v1], None);
        var both = await DatasetStats.CollectAsync(remote, [v1, v2], None);
        var reachable = await DatasetStats.CollectAsync(remote, await remote.ReachableVersionsAsync(None), None);

        Assert.Equal(1, first.Versions);
        Assert.Equal(4, first.Entries);
        Assert.Equal(800_000, first.Bytes);
        Assert.Equal(2, first.DistinctFiles); // the empty file has no chunks
        Assert.Equal(500_000, first.DistinctFileBytes);
        Assert.Equal(500_000, first.ChunkBytes);
        Assert.Equal(1.6, first.DeduplicationRatio, 3);
        Assert.True(first.StoredBytes < first.ChunkBytes, "the text is stored compressed");
        Assert.True(first.StoredBytes > 300_000, "the random bytes are not");

        Assert.Equal(2, both.Versions);
        Assert.Equal(4 + 5, both.Entries);
        Assert.Equal(800_000 + 900_000, both.Bytes);
        Assert.Equal(3, both.DistinctFiles);
        Assert.Equal(600_000, both.ChunkBytes);
        Assert.True(both.Chunks > first.Chunks);
        Assert.Equal(both, reachable);
    }
}
