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
