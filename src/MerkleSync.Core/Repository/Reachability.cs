using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>Everything some versions reach: their records, tree nodes, and files with the paths that use them.</summary>
internal sealed class Reachability
{
    public Dictionary<Hash, VersionRecord> Versions { get; } = [];

    public HashSet<Hash> Nodes { get; } = [];

    /// <summary>File hash → (version, path) uses, for reporting what a damaged file breaks.</summary>
    public Dictionary<Hash, List<(Hash Version, string Path, long Size)>> Files { get; } = [];

    /// <summary>What the refs' histories reach, with <paramref name="asIfForgotten"/> stepped over as forgotten versions are.</summary>
    public static async Task<Reachability> FromRefsAsync(Repository repository, IReadOnlySet<Hash>? asIfForgotten, CancellationToken cancellationToken)
    {
        var heads = repository.ListRefs().Select(r => r.Id).Distinct();
        return await FromVersionsAsync(repository, heads.SelectMany(h => repository.History(h, asIfForgotten).Select(v => v.Id)), cancellationToken).ConfigureAwait(false);
    }

    public static async Task<Reachability> FromVersionsAsync(Repository repository, IEnumerable<Hash> versionIds, CancellationToken cancellationToken)
    {
        var result = new Reachability();
        foreach (var id in versionIds.Distinct())
        {
            var record = repository.GetVersion(id) ?? throw new Errors.NotFoundException($"Version record {id} is missing.");
            result.Versions[id] = record;
            await result.AddTreeAsync(repository, id, record.Root, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// Adds the nodes and files of the tree <paramref name="root"/>, each file's uses under
    /// <paramref name="version"/> (for reports). Every version's entries are listed (paths differ
    /// between versions), but each node is read once per version.
    /// </summary>
    public async Task AddTreeAsync(Repository repository, Hash version, Hash root, CancellationToken cancellationToken)
    {
        var pending = new Stack<Hash>([root]);
        var seenHere = new HashSet<Hash>();
        while (pending.Count > 0)
        {
            var id = pending.Pop();
            if (!seenHere.Add(id))
            {
                continue;
            }

            Nodes.Add(id);
            var node = await TreeReader.LoadAsync(repository.Nodes, id, cancellationToken).ConfigureAwait(false);
            foreach (var child in node.Children)
            {
                pending.Push(child.NodeId);
            }

            foreach (var entry in node.Entries.Where(e => !e.FileHash.IsZero))
            {
                if (!Files.TryGetValue(entry.FileHash, out var uses))
                {
                    Files[entry.FileHash] = uses = [];
                }

                uses.Add((version, entry.Path, entry.Size));
            }
        }
    }
}
