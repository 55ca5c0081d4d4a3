using System.Runtime.CompilerServices;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

public enum ChangeKind
{
    Added,
    Removed,
    Modified,
}

/// <summary>One difference between two snapshots. <see cref="Old"/> is null when added, <see cref="New"/> when removed.</summary>
public sealed record TreeChange(ChangeKind Kind, string Path, TreeEntry? Old, TreeEntry? New);

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
