using MerkleSync.Core.Errors;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Push and pull through a real file:// repository (RocksDB and packs in a temp folder).</summary>
public class PushPullTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Push_then_pull_gives_an_identical_tree()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();

        PushResult pushed;
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            pushed = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "first"), None);
        }

        Assert.True(pushed.Published);
        Assert.Equal(7, pushed.Files);
        Assert.Equal(pushed.ChunksTotal, pushed.ChunksNew);
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            var pulled = await PullOperation.PullAsync(remote, target, new PullOptions(), None);
            Assert.Equal(pushed.Root, pulled.Root);
            Assert.Equal(7, pulled.FilesWritten);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }
}
