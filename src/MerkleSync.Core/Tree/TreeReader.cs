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
