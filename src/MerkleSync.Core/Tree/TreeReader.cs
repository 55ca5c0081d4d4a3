using System.Runtime.CompilerServices;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>Loads verified nodes and walks snapshot trees.</summary>
public static class TreeReader
{
    /// <summary>Loads a node, checking that its bytes hash to <paramref name="id"/> before decoding them.</summary>
    public static async ValueTask<TreeNode> LoadAsync(ITreeNodeStore store, Hash id, CancellationToken cancellationToken)
    {
        byte[] encoded = await store.TryGetAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"Tree node {id} is missing.");
        if (TreeFormat.NodeId(encoded) != id)
        {
            throw new CorruptDataException($"Tree node {id} is corrupt: its bytes hash to {TreeFormat.NodeId(encoded)}.");
        }

        return TreeNode.Decode(encoded);
    }

    /// <summary>Loads a child of <paramref name="parent"/> and checks it sits one level below it.</summary>
    internal static async ValueTask<TreeNode> LoadChildAsync(ITreeNodeStore store, TreeNode parent, TreeChild child, CancellationToken cancellationToken)
    {
        var node = await LoadAsync(store, child.NodeId, cancellationToken).ConfigureAwait(false);
        if (node.Level != parent.Level - 1 || node.Count == 0)
        {
            throw new CorruptDataException($"Tree node {child.NodeId} is at level {node.Level} with {node.Count} items under a level-{parent.Level} parent.");
        }

        return node;
    }

    /// <summary>The entry at <paramref name="path"/>, reading one node per level (children are found by their last path).</summary>
    public static async ValueTask<TreeEntry?> FindAsync(ITreeNodeStore store, Hash root, string path, CancellationToken cancellationToken) =>
        await SeekAsync(store, root, path, cancellationToken).ConfigureAwait(false) is { } entry && entry.Path == path ? entry : null;

    /// <summary>
    /// Whether the tree has entries under the folder <paramref name="path"/>. They sort together, right
    /// from <c>path/</c> on, so the first entry at or after that says.
    /// </summary>
    public static async ValueTask<bool> IsFolderAsync(ITreeNodeStore store, Hash root, string path, CancellationToken cancellationToken) =>
        await SeekAsync(store, root, path + "/", cancellationToken).ConfigureAwait(false) is { } entry && DatasetPath.IsAtOrUnder(entry.Path, path);

    /// <summary>The first entry whose path is at or after <paramref name="path"/>, reading one node per level.</summary>
    private static async ValueTask<TreeEntry?> SeekAsync(ITreeNodeStore store, Hash root, string path, CancellationToken cancellationToken)
    {
        var node = await LoadAsync(store, root, cancellationToken).ConfigureAwait(false);
        while (!node.IsLeaf)
        {
            var child = node.Children.FirstOrDefault(c => DatasetPath.Compare(c.LastPath, path) >= 0);
            if (child == default)
            {
                return null;
            }

            node = await LoadChildAsync(store, node, child, cancellationToken).ConfigureAwait(false);
        }

        foreach (var entry in node.Entries)
        {
            if (DatasetPath.Compare(entry.Path, path) >= 0)
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>All entries of the tree at <paramref name="root"/>, in path order.</summary>
    public static async IAsyncEnumerable<TreeEntry> EnumerateAsync(
        ITreeNodeStore store, Hash root, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var cursor = await TreeCursor.OpenAsync(store, root, cancellationToken).ConfigureAwait(false);
        while (!cursor.AtEnd)
        {
            if (cursor.AtChild)
            {
                await cursor.ExpandAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            yield return cursor.Entry;
            cursor.MoveNext();
        }
    }
}
