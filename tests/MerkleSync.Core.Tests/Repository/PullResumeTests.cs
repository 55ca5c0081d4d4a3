using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>A pull that was interrupted leaves the large files it verified for the next pull, which checks them and places them instead of downloading them.</summary>
public class PullResumeTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_pull_places_the_large_files_an_interrupted_pull_verified_and_downloads_those_that_do_not_check_out()
    {
        await using var sample = await SampleRepository.CreateAsync();
        byte[] first = DatasetFiles.Random(11, 6 << 20), second = DatasetFiles.Random(12, 5 << 20);
        DatasetFiles.Write(sample.Source, "big/first.bin", first);
        DatasetFiles.Write(sample.Source, "big/second.bin", second);
        await PushOperation.PushAsync(sample.Source, sample.Remote, new PushOptions(), None);

        // What an interrupted pull left: its state, the first file verified and kept, and a kept
        // file for the second that is damaged (it must not be trusted for its name).
        string copy = sample.Sub("copy");
        ClientStateStore.Open(copy).Dispose();
        string staging = ClientStateStore.StagingFolderOf(copy);
        var firstHash = ContentHasher.Hash(first).FileHash;
        var secondHash = ContentHasher.Hash(second).FileHash;
        File.WriteAllBytes(Path.Combine(staging, firstHash + ".verified"), first);
        byte[] damaged = [.. second];
        damaged[4_000_000] ^= 1;
        File.WriteAllBytes(Path.Combine(staging, secondHash + ".verified"), damaged);
        ClientStateStore.Open(copy).Dispose(); // opening the state again does not clear them

        var pulled = await PullOperation.PullAsync(sample.Remote, copy, new PullOptions(), None);
        var fresh = await PullOperation.PullAsync(sample.Remote, sample.Sub("fresh"), new PullOptions(), None);

        Assert.Equal(fresh.ChunkBytesFetched - first.Length, pulled.ChunkBytesFetched);
        Assert.Equal(fresh.BytesReused + first.Length, pulled.BytesReused);
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(copy, "big", "first.bin")));
        Assert.Equal(second, File.ReadAllBytes(Path.Combine(copy, "big", "second.bin")));
        foreach (string file in Directory.EnumerateFiles(sample.Source, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/.merklesync/", StringComparison.Ordinal)))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(copy, Path.GetRelativePath(sample.Source, file))));
        }

        Assert.Empty(Directory.EnumerateFiles(staging));
    }
}
