using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Sync;

public class PathHistoryTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_paths_history_lists_the_versions_that_changed_it_with_their_changes_and_a_move_out_as_a_rename()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        await using var opened = await RemoteUrl.OpenAsync(repo, None);
        var remote = (LocalRemote)opened;
        async Task PushAsync(string message) => await PushOperation.PushAsync(source, remote, new PushOptions(Message: message), None);

        DatasetFiles.Write(source, "labels/a.csv", DatasetFiles.Text(1, 5_000));
        DatasetFiles.Write(source, "images/x.bin", DatasetFiles.Random(2, 20_000));
        await PushAsync("one");
        DatasetFiles.Write(source, "images/y.bin", DatasetFiles.Random(3, 20_000));
        await PushAsync("two: images only");
        DatasetFiles.Write(source, "labels/a.csv", DatasetFiles.Text(4, 6_000));
        await PushAsync("three: a.csv edited");
        File.Move(Path.Combine(source, "labels/a.csv"), Path.Combine(source, "a.csv"));
        await PushAsync("four: a.csv moved out");

        var head = await remote.ResolveAsync("main", None);
        async Task<List<string>> LogAsync(string[] paths, int max = 50) =>
            await PathHistory.ChangesAsync(remote, head, paths, max, None)
                .Select(v => $"{v.Version.Record.Message}: {string.Join(", ", v.Changes.Select(c => $"{c.Kind} {c.Path}"))}").ToListAsync();

        Assert.Equal(
            ["four: a.csv moved out: Renamed a.csv", "three: a.csv edited: Modified labels/a.csv", "one: Added labels/a.csv"],
            await LogAsync(["labels"]));
        Assert.Equal(["two: images only: Added images/y.bin", "one: Added images/x.bin"], await LogAsync(["images/y.bin", "images/x.bin"]));
        Assert.Equal(4, (await LogAsync([])).Count); // no paths: every version, with all it changed
        Assert.Equal(["four: a.csv moved out: Renamed a.csv"], await LogAsync(["labels"], max: 1));
        Assert.Empty(await LogAsync(["nothing/here"]));

        // Once the first two are forgotten, the oldest kept version's changes are no longer known.
        await remote.Repository.ForgetAsync(new ForgetPolicy(KeepLast: 2, KeepWithin: null), dryRun: false, prune: null, None);
        Assert.Equal(["four: a.csv moved out: Renamed a.csv"], await LogAsync(["labels"]));
    }
}
