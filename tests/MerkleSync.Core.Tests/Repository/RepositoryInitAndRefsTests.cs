using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Where a repository may be created, how its tags change, and how versions are named.</summary>
public class RepositoryInitAndRefsTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public void A_repository_is_created_only_in_a_new_or_empty_folder()
    {
        using var temp = new TempFolder();
        string dataset = temp.Sub("dataset"), empty = temp.Sub("empty");
        DatasetFiles.Write(dataset, "a.txt", "data"u8.ToArray());
        Directory.CreateDirectory(empty);

        var refused = Assert.Throws<InvalidInputException>(() => Core.Repository.Repository.Init(dataset));
        Assert.Contains("is not empty", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["a.txt"], Directory.EnumerateFileSystemEntries(dataset).Select(Path.GetFileName));

        Core.Repository.Repository.Init(empty).Dispose();
        Core.Repository.Repository.Init(temp.Sub("new")).Dispose();
        Assert.Contains("already exists", Assert.Throws<InvalidInputException>(() => Core.Repository.Repository.Init(empty)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_init_killed_half_way_leaves_no_repository_and_a_second_init_creates_it()
    {
        using var temp = new TempFolder();
        string killed = temp.Sub("killed"), dataset = temp.Sub("dataset");
        // What an init killed before its database held the format leaves (the folder it creates it in).
        Directory.CreateDirectory(Path.Combine(killed, "index.unfinished"));
        File.WriteAllText(Path.Combine(killed, "index.unfinished", "LOCK"), "");
        DatasetFiles.Write(dataset, "index.unfinished/mine.txt", "not ours"u8.ToArray());

        Assert.Contains("No repository", (await Assert.ThrowsAsync<NotFoundException>(() => Core.Repository.Repository.OpenAsync(killed, None))).Message, StringComparison.Ordinal);
        Core.Repository.Repository.Init(killed).Dispose();
        (await Core.Repository.Repository.OpenAsync(killed, None)).Dispose();
        Assert.DoesNotContain("index.unfinished", Directory.EnumerateFileSystemEntries(killed).Select(Path.GetFileName));

        // A folder of that name among other files is someone's data: refused, not deleted.
        DatasetFiles.Write(dataset, "a.txt", "data"u8.ToArray());
        Assert.Throws<InvalidInputException>(() => Core.Repository.Repository.Init(dataset));
        Assert.True(File.Exists(Path.Combine(dataset, "index.unfinished", "mine.txt")));
    }

    [Fact]
    public async Task A_tag_changes_only_from_the_version_the_caller_saw()
    {
        await using var sample = await SampleRepository.CreateAsync();
        var remote = sample.Remote;
        var first = await PushOperation.PushAsync(sample.Source, remote, new PushOptions(), None);
        DatasetFiles.Write(sample.Source, "more.txt", "more"u8.ToArray());
        var second = await PushOperation.PushAsync(sample.Source, remote, new PushOptions(), None);

        await remote.UpdateTagAsync("rel", first.VersionId, null, None);
        await Assert.ThrowsAsync<ConflictException>(() => remote.UpdateTagAsync("rel", second.VersionId, null, None).AsTask());
        await Assert.ThrowsAsync<ConflictException>(() => remote.UpdateTagAsync("rel", null, second.VersionId, None).AsTask());
        Assert.Equal(first.VersionId, (await remote.ResolveAsync("rel", None)).Id);

        await remote.UpdateTagAsync("rel", second.VersionId, first.VersionId, None);
        Assert.Equal(second.VersionId, (await remote.ResolveAsync("rel", None)).Id);
        await remote.UpdateTagAsync("rel", null, second.VersionId, None);
        await Assert.ThrowsAsync<NotFoundException>(() => remote.ResolveAsync("rel", None).AsTask());
        // A tag and a branch of the same name are different refs.
        await Assert.ThrowsAsync<ConflictException>(() => remote.UpdateTagAsync("main", null, second.VersionId, None).AsTask());
    }

    [Fact]
    public async Task Tilde_and_caret_go_back_along_the_parents()
    {
        await using var sample = await SampleRepository.CreateAsync();
        var remote = sample.Remote;
        var ids = new List<Core.Hashing.Hash>();
        for (int i = 0; i < 3; i++)
        {
            DatasetFiles.Write(sample.Source, "counter.txt", System.Text.Encoding.ASCII.GetBytes($"{i}"));
            ids.Add((await PushOperation.PushAsync(sample.Source, remote, new PushOptions(), None)).VersionId);
        }

        async Task<Core.Hashing.Hash> ResolveAsync(string spec) => (await remote.ResolveAsync(spec, None)).Id;
        Assert.Equal(ids[2], await ResolveAsync("main"));
        foreach (string spec in new[] { "main~1", "main~", "main^" })
        {
            Assert.Equal(ids[1], await ResolveAsync(spec));
        }

        foreach (string spec in new[] { "main~2", "main^^", "main~1^", "main~~", ids[1].ToString()[..10] + "^" })
        {
            Assert.Equal(ids[0], await ResolveAsync(spec));
        }

        Assert.Contains("'main' has 2 before it", (await Assert.ThrowsAsync<NotFoundException>(() => remote.ResolveAsync("main~3", None).AsTask())).Message, StringComparison.Ordinal);
        foreach (string bad in new[] { "main~x", "main^2", "main~1234567890", "main~-1" })
        {
            await Assert.ThrowsAsync<InvalidInputException>(() => remote.ResolveAsync(bad, None).AsTask());
        }
    }
}
