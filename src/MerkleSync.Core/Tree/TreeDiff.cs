using System.Runtime.CompilerServices;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

public enum ChangeKind
{
    Added,
    Removed,
    Modified,

    /// <summary>Same content at a new path: <see cref="TreeChange.Old"/> holds the old path.</summary>
    Renamed,
}

/// <summary>One difference between two snapshots. <see cref="Old"/> is null when added, <see cref="New"/> when removed.</summary>
public sealed record TreeChange(ChangeKind Kind, string Path, TreeEntry? Old, TreeEntry? New);

/// <summary>Pairs a removed and an added entry with the same (non-empty) content into a rename.</summary>
public static class RenameDetection
{
    public static List<TreeChange> Pair(IReadOnlyList<TreeChange> changes)
    {
        var removedByHash = new Dictionary<Hash, Queue<TreeChange>>();
        foreach (var change in changes.Where(c => c.Kind == ChangeKind.Removed && !c.Old!.Value.FileHash.IsZero))
        {
            if (!removedByHash.TryGetValue(change.Old!.Value.FileHash, out var queue))
            {
                removedByHash[change.Old!.Value.FileHash] = queue = new Queue<TreeChange>();
            }

            queue.Enqueue(change);
        }

        var paired = new HashSet<TreeChange>(ReferenceEqualityComparer.Instance);
        var result = new List<TreeChange>(changes.Count);
        foreach (var change in changes)
        {
            if (change.Kind == ChangeKind.Added && removedByHash.TryGetValue(change.New!.Value.FileHash, out var queue) && queue.Count > 0)
            {
                var removed = queue.Dequeue();
                paired.Add(removed);
                result.Add(new TreeChange(ChangeKind.Renamed, change.Path, removed.Old, change.New));
            }
            else
            {
                result.Add(change);
            }
        }

        result.RemoveAll(paired.Contains);
        return result;
    }
}

/// <summary>
/// Differences between two snapshot trees. Subtrees with equal ids at the same position are skipped
/// unopened, so the work grows with the number of changes, not with the size of the snapshots.
/// </summary>
public static class TreeDiff
{
    public static async IAsyncEnumerable<TreeChange> DiffAsync(
        ITreeNodeStore store, Hash oldRoot, Hash newRoot, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (oldRoot == newRoot)
        {
            yield break;
        }

        var a = await TreeCursor.OpenAsync(store, oldRoot, cancellationToken).ConfigureAwait(false);
        var b = await TreeCursor.OpenAsync(store, newRoot, cancellationToken).ConfigureAwait(false);
        while (!a.AtEnd || !b.AtEnd)
        {
            if (!a.AtEnd && !b.AtEnd && a.AtChild && b.AtChild && a.Child.NodeId == b.Child.NodeId)
            {
                a.MoveNext();
                b.MoveNext();
                continue;
            }

            // Open subtrees until both sides stand on entries; taller side first, both on a tie, so
            // that equal subtrees meet at the same height and can be skipped.
            bool openA = !a.AtEnd && a.AtChild && (b.AtEnd || a.Height >= b.Height);
            bool openB = !b.AtEnd && b.AtChild && (a.AtEnd || b.Height >= a.Height);
            if (openA || openB)
            {
                if (openA) await a.ExpandAsync(cancellationToken).ConfigureAwait(false);
                if (openB) await b.ExpandAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            int order = a.AtEnd ? 1 : b.AtEnd ? -1 : DatasetPath.Compare(a.Entry.Path, b.Entry.Path);
            if (order < 0)
            {
                yield return new TreeChange(ChangeKind.Removed, a.Entry.Path, a.Entry, null);
                a.MoveNext();
            }
            else if (order > 0)
            {
                yield return new TreeChange(ChangeKind.Added, b.Entry.Path, null, b.Entry);
                b.MoveNext();
            }
            else
            {
                if (a.Entry != b.Entry)
                {
                    yield return new TreeChange(ChangeKind.Modified, a.Entry.Path, a.Entry, b.Entry);
                }

                a.MoveNext();
                b.MoveNext();
            }
        }
    }
}
