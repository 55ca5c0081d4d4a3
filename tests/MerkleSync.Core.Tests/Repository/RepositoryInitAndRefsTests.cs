using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Where a repository may be created, and how its tags change.</summary>
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
}
