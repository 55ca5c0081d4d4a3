using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>What a repository refuses to publish, whoever sends it.</summary>
public class PublishValidationTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static TreeEntry Empty(string path) => new(path, Hash.Zero, 0, EntryMode.Regular);

    private static KeyValuePair<Hash, byte[]> Node(TreeNode node)
    {
        byte[] bytes = node.Encode();
        return new(TreeFormat.NodeId(bytes), bytes);
    }

    [Fact]
    public async Task A_valid_but_non_canonical_tree_is_refused()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        TreeEntry[] entries = [Empty("a"), Empty("b"), Empty("c")];
        var canonical = Node(TreeNode.Leaf(entries));

        // The same entries split at a place the builder never splits.
        var left = Node(TreeNode.Leaf([entries[0]]));
        var right = Node(TreeNode.Leaf([entries[1], entries[2]]));
        var root = Node(TreeNode.Inner(1, [new TreeChild("a", left.Key, 1, 0), new TreeChild("c", right.Key, 2, 0)]));

        await repository.StoreNodesAsync([left, right, root, canonical], None);
        var refused = await Assert.ThrowsAsync<CorruptDataException>(() =>
            repository.PublishAsync(new PublishRequest("main", null, root.Key, "t", "odd shape"), None));
        Assert.Contains("canonical", refused.Message, StringComparison.Ordinal);
        Assert.Null(repository.GetRef(RefName.Branch("main")));

        var (_, record) = await repository.PublishAsync(new PublishRequest("main", null, canonical.Key, "t", "ok"), None);
        Assert.Equal(3, record.Files);

        // The same leaf encoded another way (the second path not sharing its prefix): another id, refused.
        byte[] Item(string path) => [0, (byte)path.Length, .. System.Text.Encoding.ASCII.GetBytes(path), (byte)EntryMode.Regular, 0, .. new byte[Hash.Size]];
        byte[] loose = [TreeFormat.Version, 0, 2, .. Item("ab"), .. Item("ac")];
        Assert.Equal(Node(TreeNode.Leaf([Empty("ab"), Empty("ac")])).Value, TreeNode.Decode(loose).Encode()); // it reads as a valid leaf
        await repository.StoreNodesAsync([new(TreeFormat.NodeId(loose), loose)], None);
        var twoIds = await Assert.ThrowsAsync<CorruptDataException>(() => repository.PublishAsync(new PublishRequest("loose", null, TreeFormat.NodeId(loose), "t", ""), None));
        Assert.Contains("not the encoding of what they hold", twoIds.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_leaf_that_ended_its_level_may_not_stand_before_new_ones()
    {
        // v1's last leaf ended v1 without a boundary; v2 appends entries after it. The builder puts
        // them into that leaf until a boundary; a client that keeps the old leaf and starts new ones
        // after it sends a valid tree of the same entries with another id.
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var first = Enumerable.Range(0, 300).Select(i => Empty($"a/{i:D4}")).ToList();
        while (TreeFormat.IsBoundary(TreeFormat.BoundaryHash(first[^1].Path), 0))
        {
            first.RemoveAt(first.Count - 1);
        }

        var v1 = await PublishBuiltAsync(repository, "v1", Leaves(first));
        Assert.Equal(await TreeBuilder.BuildAsync(first, new MemoryTreeNodeStore(), None), v1);
        var more = Enumerable.Range(0, 300).Select(i => Empty($"b/{i:D4}")).ToList();
        var refused = await Assert.ThrowsAsync<CorruptDataException>(() => PublishBuiltAsync(repository, "odd", [.. Leaves(first), .. Leaves(more)]));
        Assert.Contains("canonical", refused.Message, StringComparison.Ordinal);
        Assert.Null(repository.GetRef(RefName.Branch("odd")));
        Assert.Equal(await TreeBuilder.BuildAsync([.. first, .. more], new MemoryTreeNodeStore(), None), await PublishBuiltAsync(repository, "v2", Leaves([.. first, .. more])));
    }

    [Fact]
    public async Task A_tree_is_published_exactly_when_its_entries_build_it_over_many_edits_and_wrong_splits()
    {
        // Trees that share nodes with those published before, some split where the builder would
        // not split: the checks, which read only what is new, must agree with a rebuild every time.
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var random = new Random(5);
        var entries = Enumerable.Range(0, 1500).Select(i => Empty($"d{i % 7}/f{i:D5}")).OrderBy(e => e.Path, DatasetPath.Comparer).ToList();
        int refusals = 0;
        for (int round = 0; round < 40; round++)
        {
            // A few entries added or removed anywhere, then the leaves maybe split or joined wrongly.
            for (int edits = random.Next(1, 6); edits > 0; edits--)
            {
                if (random.Next(2) == 0 && entries.Count > 10)
                {
                    entries.RemoveAt(random.Next(entries.Count));
                }
                else
                {
                    var added = Empty($"d{random.Next(9)}/g{random.Next(100_000):D5}");
                    if (!entries.Any(e => e.Path == added.Path))
                    {
                        entries.Add(added);
                        entries.Sort((a, b) => DatasetPath.Compare(a.Path, b.Path));
                    }
                }
            }

            var leaves = Leaves(entries);
            int at = random.Next(leaves.Count);
            switch (random.Next(3))
            {
                case 0 when leaves[at].Length > 1:
                    int cut = random.Next(1, leaves[at].Length);
                    leaves.Insert(at + 1, leaves[at][cut..]);
                    leaves[at] = leaves[at][..cut];
                    break;
                case 1 when at + 1 < leaves.Count && leaves[at].Length + leaves[at + 1].Length <= TreeFormat.MaxLeafEntries:
                    leaves[at] = [.. leaves[at], .. leaves[at + 1]];
                    leaves.RemoveAt(at + 1);
                    break;
            }

            var canonical = await TreeBuilder.BuildAsync(entries, new MemoryTreeNodeStore(), None);
            var (root, nodes) = Build(leaves);
            await repository.StoreNodesAsync(nodes, None);
            if (root == canonical)
            {
                await repository.PublishAsync(new PublishRequest($"r{round}", null, root, "t", ""), None);
            }
            else
            {
                refusals++;
                var refused = await Assert.ThrowsAsync<CorruptDataException>(() => repository.PublishAsync(new PublishRequest($"r{round}", null, root, "t", ""), None));
                Assert.Contains("canonical", refused.Message, StringComparison.Ordinal);
                Assert.Equal(canonical, await PublishBuiltAsync(repository, $"r{round}", Leaves(entries)));
            }
        }

        Assert.InRange(refusals, 10, 30); // both outcomes were tried
    }

    private static List<TreeEntry[]> Leaves(IReadOnlyList<TreeEntry> entries)
    {
        // Split as the builder splits.
        var leaves = new List<TreeEntry[]>();
        var leaf = new List<TreeEntry>();
        foreach (var entry in entries)
        {
            leaf.Add(entry);
            if (TreeBuilder.ClosesNode(TreeFormat.BoundaryHash(entry.Path), 0, leaf.Count))
            {
                leaves.Add([.. leaf]);
                leaf.Clear();
            }
        }

        if (leaf.Count > 0)
        {
            leaves.Add([.. leaf]);
        }

        return leaves;
    }

    /// <summary>The tree over the given leaves, the levels above split as the builder splits them.</summary>
    private static (Hash Root, List<KeyValuePair<Hash, byte[]>> Nodes) Build(List<TreeEntry[]> leaves)
    {
        var nodes = new List<KeyValuePair<Hash, byte[]>>();
        var level = leaves.Select(entries =>
        {
            var node = Node(TreeNode.Leaf(entries));
            nodes.Add(node);
            return new TreeChild(entries[^1].Path, node.Key, entries.Length, 0);
        }).ToList();
        for (int height = 1; level.Count > 1; height++)
        {
            var parents = new List<TreeChild>();
            var group = new List<TreeChild>();
            for (int i = 0; i < level.Count; i++)
            {
                group.Add(level[i]);
                if (i == level.Count - 1 || TreeBuilder.ClosesNode(TreeFormat.BoundaryHash(level[i].LastPath), height, group.Count))
                {
                    var node = Node(TreeNode.Inner(height, [.. group]));
                    nodes.Add(node);
                    parents.Add(new TreeChild(group[^1].LastPath, node.Key, group.Sum(c => c.EntryCount), 0));
                    group.Clear();
                }
            }

            level = parents;
        }

        return (level[0].NodeId, nodes);
    }

    private static async Task<Hash> PublishBuiltAsync(Core.Repository.Repository repository, string branch, List<TreeEntry[]> leaves)
    {
        var (root, nodes) = Build(leaves);
        await repository.StoreNodesAsync(nodes, None);
        await repository.PublishAsync(new PublishRequest(branch, repository.GetRef(RefName.Branch(branch)), root, "t", ""), None);
        return root;
    }

    [Fact]
    public async Task Missing_nodes_wrong_sizes_and_unknown_files_are_refused()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var leaf = Node(TreeNode.Leaf([new TreeEntry("x", XetHashes.ChunkHash("x"u8), 1, EntryMode.Regular)]));

        var sized = Node(TreeNode.Leaf([new TreeEntry("x", Hash.Zero, 5, EntryMode.Regular)]));
        await repository.StoreNodesAsync([leaf, sized], None);
        await Assert.ThrowsAsync<NotFoundException>(() => repository.PublishAsync(new PublishRequest("main", null, leaf.Key, "t", ""), None));
        await Assert.ThrowsAsync<NotFoundException>(() => repository.PublishAsync(new PublishRequest("main", null, Hash.Zero, "t", ""), None));
        await Assert.ThrowsAsync<CorruptDataException>(() => repository.PublishAsync(new PublishRequest("main", null, sized.Key, "t", ""), None));
    }
}
