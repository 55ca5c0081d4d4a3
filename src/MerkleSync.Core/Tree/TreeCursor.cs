using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>
/// A position in a tree walk. The current item is either an entry or a child subtree that has not
/// been opened yet, which lets a diff skip a whole subtree without loading it.
/// </summary>
internal sealed class TreeCursor
{
    private readonly ITreeNodeStore _store;
    private readonly Stack<(TreeNode Node, int Index)> _frames = new();

    private TreeCursor(ITreeNodeStore store) => _store = store;

    public static async ValueTask<TreeCursor> OpenAsync(ITreeNodeStore store, Hash root, CancellationToken cancellationToken)
    {
        var cursor = new TreeCursor(store);
        var node = await TreeReader.LoadAsync(store, root, cancellationToken).ConfigureAwait(false);
        if (node.Count > 0)
        {
            cursor._frames.Push((node, 0));
        }

        return cursor;
    }

    public bool AtEnd => _frames.Count == 0;

    public bool AtChild => !_frames.Peek().Node.IsLeaf;

    /// <summary>The level of the node holding the current item: 0 for an entry, higher for taller subtrees.</summary>
    public int Height => _frames.Peek().Node.Level;

    public TreeChild Child => _frames.Peek().Node.Children[_frames.Peek().Index];

    public TreeEntry Entry => _frames.Peek().Node.Entries[_frames.Peek().Index];

    /// <summary>Moves past the current item (a whole subtree, if it is a child).</summary>
    public void MoveNext()
    {
        while (_frames.Count > 0)
        {
            var (node, index) = _frames.Pop();
            if (index + 1 < node.Count)
            {
                _frames.Push((node, index + 1));
                return;
            }
        }
    }

    /// <summary>Opens the current child: its first item becomes current.</summary>
    public async ValueTask ExpandAsync(CancellationToken cancellationToken)
    {
        var (parent, index) = _frames.Pop();
        var child = await TreeReader.LoadChildAsync(_store, parent, parent.Children[index], cancellationToken).ConfigureAwait(false);
        _frames.Push((parent, index));
        _frames.Push((child, 0));
    }
}
