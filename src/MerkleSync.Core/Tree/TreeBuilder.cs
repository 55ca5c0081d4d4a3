using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>
/// Builds the snapshot tree of a sorted entry list and returns its root id, the version id.
/// Node boundaries come from hashes of paths, so the same entries always give the same tree,
/// and changing one entry rewrites only the nodes on its path to the root.
/// </summary>
public static class TreeBuilder
{
    public static ValueTask<Hash> BuildAsync(IEnumerable<TreeEntry> sortedEntries, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sortedEntries);
        return BuildAsync(sortedEntries.ToAsyncEnumerable(), store, cancellationToken);
    }

    public static async ValueTask<Hash> BuildAsync(IAsyncEnumerable<TreeEntry> sortedEntries, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sortedEntries);
        ArgumentNullException.ThrowIfNull(store);

        var level = new List<(TreeChild Child, ulong Boundary)>();
        var leaf = new List<TreeEntry>(TreeFormat.MaxLeafEntries);
        string? previous = null;
        await foreach (var entry in sortedEntries.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (previous is not null && DatasetPath.Compare(previous, entry.Path) >= 0)
            {
                throw new InvalidInputException(DatasetPath.Compare(previous, entry.Path) == 0
                    ? $"Duplicate path '{entry.Path}' in snapshot entries."
                    : $"Snapshot entries are not sorted: '{entry.Path}' comes after '{previous}'.");
            }

            if (entry.Size < 0)
            {
                throw new InvalidInputException($"Entry '{entry.Path}' has a negative size.");
            }

            previous = entry.Path;
            leaf.Add(entry);
            ulong boundary = TreeFormat.BoundaryHash(entry.Path);
            if (ClosesNode(boundary, 0, leaf.Count))
            {
                level.Add((await StoreLeafAsync(leaf, store, cancellationToken).ConfigureAwait(false), boundary));
                leaf.Clear();
            }
        }

        if (leaf.Count > 0 || level.Count == 0)
        {
            // The last leaf, or the one empty leaf of an empty snapshot.
            ulong boundary = leaf.Count > 0 ? TreeFormat.BoundaryHash(leaf[^1].Path) : 0;
            var child = await StoreLeafAsync(leaf, store, cancellationToken).ConfigureAwait(false);
            if (level.Count == 0)
            {
                return child.NodeId;
            }

            level.Add((child, boundary));
        }

        for (int height = 1; ; height++)
        {
            if (level.Count == 1)
            {
                return level[0].Child.NodeId;
            }

            if (height > TreeFormat.MaxLevel)
            {
                throw new InvalidOperationException("Snapshot tree exceeds the maximum height.");
            }

            level = await BuildLevelAsync(level, height, store, cancellationToken).ConfigureAwait(false);
        }
    }

    // A node closes after an item whose key hash meets the level's bit rule (once it holds two
    // items, so every level at least halves), or when it is full.
    internal static bool ClosesNode(ulong boundary, int height, int count) =>
        count >= (height == 0 ? TreeFormat.MaxLeafEntries : TreeFormat.MaxChildren)
        || (count >= 2 && TreeFormat.IsBoundary(boundary, height));

    private static async ValueTask<List<(TreeChild, ulong)>> BuildLevelAsync(
        List<(TreeChild Child, ulong Boundary)> items, int height, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        var parents = new List<(TreeChild, ulong)>((items.Count / 16) + 1);
        var node = new List<TreeChild>(TreeFormat.MaxChildren);
        for (int i = 0; i < items.Count; i++)
        {
            node.Add(items[i].Child);
            if (i == items.Count - 1 || ClosesNode(items[i].Boundary, height, node.Count))
            {
                var inner = TreeNode.Inner(height, [.. node]);
                long entries = 0, bytes = 0;
                foreach (var child in node)
                {
                    entries += child.EntryCount;
                    bytes += child.TotalBytes;
                }

                var id = await StoreAsync(inner, store, cancellationToken).ConfigureAwait(false);
                parents.Add((new TreeChild(node[^1].LastPath, id, entries, bytes), items[i].Boundary));
                node.Clear();
            }
        }

        return parents;
    }

    private static async ValueTask<TreeChild> StoreLeafAsync(List<TreeEntry> entries, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        var id = await StoreAsync(TreeNode.Leaf([.. entries]), store, cancellationToken).ConfigureAwait(false);
        long bytes = 0;
        foreach (var entry in entries)
        {
            bytes += entry.Size;
        }

        return new TreeChild(entries.Count > 0 ? entries[^1].Path : string.Empty, id, entries.Count, bytes);
    }

    private static async ValueTask<Hash> StoreAsync(TreeNode node, ITreeNodeStore store, CancellationToken cancellationToken)
    {
        byte[] encoded = node.Encode();
        var id = TreeFormat.NodeId(encoded);
        await store.PutAsync(id, encoded, cancellationToken).ConfigureAwait(false);
        return id;
    }
}
