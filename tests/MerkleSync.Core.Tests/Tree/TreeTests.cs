using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tree;
using static MerkleSync.Core.Tests.Tree.TreeTestData;

namespace MerkleSync.Core.Tests.Tree;

public class TreeTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Same_entries_give_the_same_root_whatever_order_they_were_found_in()
    {
        var entries = Entries(5000);
        var shuffled = entries.OrderBy(_ => Random.Shared.Next()).ToList();
        shuffled.Sort((a, b) => DatasetPath.Compare(a.Path, b.Path));

        var a = await TreeBuilder.BuildAsync(entries, new MemoryTreeNodeStore(), None);
        var b = await TreeBuilder.BuildAsync(shuffled, new MemoryTreeNodeStore(), None);

        Assert.Equal(a, b);
    }

    [Fact]
    public async Task Known_roots_are_frozen()
    {
        // A change here is a format change: bump TreeFormat.Version instead of editing these.
        var store = new MemoryTreeNodeStore();
        Assert.Equal("32bd155f72ad354a33069b9f8b73972f98d5779f87783ee028063206feb538a7", (await TreeBuilder.BuildAsync([], store, None)).ToString());
        Assert.Equal("489b6bac3406b7f1c2147c98d54fad5dcd43b517f5ee933477349352a68cd630", (await TreeBuilder.BuildAsync([Entry("a.txt", 1)], store, None)).ToString());
        Assert.Equal("f5c52d77d7f6e4c1808aac8af410d20c53d12ee80f568077260a4c35dbf87b6c", (await TreeBuilder.BuildAsync(Entries(1000), store, None)).ToString());
    }

    [Fact]
    public async Task Entries_read_back_in_order()
    {
        var store = new MemoryTreeNodeStore();
        var entries = Entries(3000);
        var root = await TreeBuilder.BuildAsync(entries, store, None);

        var read = new List<TreeEntry>();
        await foreach (var e in TreeReader.EnumerateAsync(store, root, None))
        {
            read.Add(e);
        }

        Assert.Equal(entries, read);
        var rootNode = await TreeReader.LoadAsync(store, root, None);
        Assert.True(rootNode.Level >= 1);
        Assert.Equal(entries.Count, rootNode.Children.Sum(c => c.EntryCount));
        Assert.Equal(entries.Sum(e => e.Size), rootNode.Children.Sum(c => c.TotalBytes));
    }

    [Fact]
    public async Task Find_and_IsFolder_agree_with_a_scan_of_every_entry()
    {
        // '!' and '.' sort before '/', so "dir1!odd.bin" lies between "dir1" and the entries under "dir1/".
        var entries = Entries(3000).Concat([Entry("dir1!odd.bin", 1), Entry("dir2.txt", 2), Entry("zzz", 3)]).ToList();
        entries.Sort((a, b) => DatasetPath.Compare(a.Path, b.Path));
        var store = new MemoryTreeNodeStore();
        var root = await TreeBuilder.BuildAsync(entries, store, None);
        Assert.True((await TreeReader.LoadAsync(store, root, None)).Level >= 1);

        string[] queries =
        [
            "dir1", "dir1/sub2", "dir10", "dir36/sub4", "dir", "dir1/sub", "dir1!odd.bin", "dir2.txt", "dir2", "zzz", "zzzz", "a", "",
            entries[0].Path, entries[1234].Path, entries[^1].Path, entries[1234].Path + "x",
        ];
        foreach (string query in queries)
        {
            Assert.Equal(entries.Any(e => e.Path.StartsWith(query + "/", StringComparison.Ordinal)), await TreeReader.IsFolderAsync(store, root, query, None));
            Assert.Equal(entries.Where(e => e.Path == query).Select(e => (TreeEntry?)e).SingleOrDefault(), await TreeReader.FindAsync(store, root, query, None));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2999)]
    [InlineData(1500)]
    public async Task One_changed_entry_rewrites_only_the_nodes_on_its_path(int index)
    {
        var store = new MemoryTreeNodeStore();
        var entries = Entries(20000);
        var before = await TreeBuilder.BuildAsync(entries, store, None);
        var nodesBefore = store.Ids.ToHashSet();
        int height = (await TreeReader.LoadAsync(store, before, None)).Level;

        entries[index] = entries[index] with { FileHash = XetHashes.ChunkHash("changed"u8), Size = 7 };
        var after = await TreeBuilder.BuildAsync(entries, store, None);

        int newNodes = store.Ids.Count(id => !nodesBefore.Contains(id));
        Assert.NotEqual(before, after);
        Assert.InRange(newNodes, 1, height + 1);
        var changes = await DiffAsync(store, before, after);
        var change = Assert.Single(changes);
        Assert.Equal(ChangeKind.Modified, change.Kind);
        Assert.Equal(entries[index].Path, change.Path);
        Assert.Equal(7, change.New!.Value.Size);
    }

    [Fact]
    public async Task Diff_reports_added_removed_and_modified_entries()
    {
        var store = new MemoryTreeNodeStore();
        var old = Entries(4000);
        var changed = old.ToList();
        changed[2000] = changed[2000] with { Mode = EntryMode.Executable };
        changed.RemoveAt(10);
        changed.Add(Entry("zzz/new.txt", 5));
        changed.Add(Entry("aaa.txt", 6));
        changed.Sort((a, b) => DatasetPath.Compare(a.Path, b.Path));

        var a = await TreeBuilder.BuildAsync(old, store, None);
        var b = await TreeBuilder.BuildAsync(changed, store, None);
        var changes = await DiffAsync(store, a, b);

        Assert.Equal(
            [
                (ChangeKind.Added, "aaa.txt"),
                (ChangeKind.Removed, old[10].Path),
                (ChangeKind.Modified, old[2000].Path),
                (ChangeKind.Added, "zzz/new.txt"),
            ],
            changes.Select(c => (c.Kind, c.Path)).OrderBy(c => c.Path, DatasetPath.Comparer));
        Assert.Empty(await DiffAsync(store, a, a));
    }

    [Fact]
    public async Task Diff_opens_few_nodes_when_few_entries_change()
    {
        var store = new CountingStore();
        var entries = Entries(100_000);
        var a = await TreeBuilder.BuildAsync(entries, store, None);
        for (int i = 0; i < 10; i++)
        {
            entries[i * 9000] = entries[i * 9000] with { Size = -i + 1_000_000 };
        }

        var b = await TreeBuilder.BuildAsync(entries, store, None);
        store.Reads = 0;
        var changes = await DiffAsync(store, a, b);

        Assert.Equal(10, changes.Count);
        // 10 changed leaves, each with its path up a tree of height ~3, on both sides.
        Assert.InRange(store.Reads, 10, 10 * 2 * 5);
        Assert.True(store.Count > 1500, "the tree should be far larger than what the diff read");
    }

    [Fact]
    public async Task Unsorted_or_duplicate_entries_are_rejected()
    {
        var store = new MemoryTreeNodeStore();

        await Assert.ThrowsAsync<InvalidInputException>(async () => await TreeBuilder.BuildAsync([Entry("b", 1), Entry("a", 2)], store, None));
        await Assert.ThrowsAsync<InvalidInputException>(async () => await TreeBuilder.BuildAsync([Entry("a", 1), Entry("a", 2)], store, None));
    }

    [Fact]
    public async Task A_node_whose_bytes_do_not_match_its_id_is_reported_corrupt()
    {
        var store = new MemoryTreeNodeStore();
        var root = await TreeBuilder.BuildAsync(Entries(10), store, None);
        byte[] bytes = (await store.TryGetAsync(root, None))!;
        bytes[^1] ^= 1;

        await Assert.ThrowsAsync<CorruptDataException>(async () => await TreeReader.LoadAsync(store, root, None));
        await Assert.ThrowsAsync<NotFoundException>(async () => await TreeReader.LoadAsync(store, Hash.Zero, None));
    }

    private sealed class CountingStore : ITreeNodeStore
    {
        private readonly MemoryTreeNodeStore _inner = new();

        public int Reads { get; set; }

        public int Count => _inner.Count;

        public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken)
        {
            Reads++;
            return _inner.TryGetAsync(id, cancellationToken);
        }

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => _inner.PutAsync(id, encoded, cancellationToken);
    }
}

public class RenameDetectionTests
{
    [Fact]
    public async Task Same_content_at_a_new_path_is_a_rename_but_empty_files_are_not_paired()
    {
        var store = new MemoryTreeNodeStore();
        var content = XetHashes.ChunkHash("payload"u8);
        var a = await TreeBuilder.BuildAsync([new("empty-a", Hash.Zero, 0, EntryMode.Regular), new("old/name.bin", content, 7, EntryMode.Regular)], store, CancellationToken.None);
        var b = await TreeBuilder.BuildAsync([new("empty-b", Hash.Zero, 0, EntryMode.Regular), new("new/name.bin", content, 7, EntryMode.Regular)], store, CancellationToken.None);

        var changes = RenameDetection.Pair(await TreeTestData.DiffAsync(store, a, b));

        var rename = Assert.Single(changes, c => c.Kind == ChangeKind.Renamed);
        Assert.Equal("old/name.bin", rename.Old!.Value.Path);
        Assert.Equal("new/name.bin", rename.Path);
        Assert.Equal([ChangeKind.Added, ChangeKind.Removed], changes.Where(c => c.Kind != ChangeKind.Renamed).Select(c => c.Kind).Order());
    }
}
