using System.Runtime.CompilerServices;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Sync;

/// <summary>
/// What each version of a history changed at or under some paths (<c>log --path</c>): each
/// version is diffed against its parent, which skips unchanged subtrees unopened, so a walk costs
/// what the versions changed, not what they hold.
/// </summary>
public static class PathHistory
{
    /// <summary>
    /// The versions from <paramref name="head"/> back that changed something at or under one of
    /// <paramref name="paths"/> (every version, for no paths), newest first, each with those
    /// changes (renames paired); up to <paramref name="max"/> of them. The first version of a
    /// history added all it holds. Where the history steps over forgotten versions, a version is
    /// compared with the one kept before it (its changes include theirs); the oldest version kept,
    /// whose parent was forgotten, is left out, as what it changed is no longer known.
    /// </summary>
    public static async IAsyncEnumerable<(VersionRef Version, IReadOnlyList<TreeChange> Changes)> ChangesAsync(
        IRemote remote, VersionRef head, IReadOnlyList<string> paths, int max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        VersionRef? newer = null;
        int shown = 0;
        await foreach (var version in remote.HistoryInPagesAsync(head.Id, long.MaxValue, cancellationToken).ConfigureAwait(false))
        {
            if (newer is not null)
            {
                var changes = await DiffAsync(remote.Nodes, version.Record.Root, newer.Record.Root, paths, cancellationToken).ConfigureAwait(false);
                if (changes.Count > 0)
                {
                    yield return (newer, changes);
                    if (++shown == max)
                    {
                        yield break;
                    }
                }
            }

            newer = version;
        }

        if (newer is { Record.Parent.IsZero: true })
        {
            await remote.PrefetchTreeAsync(newer.Record.Root, cancellationToken).ConfigureAwait(false);
            var added = new List<TreeChange>();
            await foreach (var entry in TreeReader.EnumerateAsync(remote.Nodes, newer.Record.Root, cancellationToken).ConfigureAwait(false))
            {
                if (Selects(paths, entry.Path))
                {
                    added.Add(new TreeChange(ChangeKind.Added, entry.Path, null, entry));
                }
            }

            if (added.Count > 0)
            {
                yield return (newer, added);
            }
        }
    }

    private static async Task<IReadOnlyList<TreeChange>> DiffAsync(ITreeNodeStore nodes, Hashing.Hash oldRoot, Hashing.Hash newRoot, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var changes = new List<TreeChange>();
        await foreach (var change in TreeDiff.DiffAsync(nodes, oldRoot, newRoot, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(change);
        }

        return Within(changes, paths);
    }

    /// <summary>
    /// <paramref name="changes"/> with renames paired, those at or under one of <paramref name="paths"/>
    /// (all, for no paths). Paired before the paths select, so that a file moved into or out of
    /// them shows as the rename it is.
    /// </summary>
    public static List<TreeChange> Within(IReadOnlyList<TreeChange> changes, IReadOnlyList<string> paths) =>
        RenameDetection.Pair(changes).Where(c => Selects(paths, c.Path) || (c.Kind == ChangeKind.Renamed && Selects(paths, c.Old!.Value.Path))).ToList();

    private static bool Selects(IReadOnlyList<string> paths, string path) => paths.Count == 0 || paths.Any(p => DatasetPath.IsAtOrUnder(path, p));
}
