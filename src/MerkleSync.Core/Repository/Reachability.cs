using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>
/// Everything some versions reach: their records, tree nodes, and files with their sizes. A
/// subtree is read once however many versions share it, so the walk costs what the versions hold
/// apart, not their number times their size.
/// </summary>
internal sealed class Reachability
{
    public Dictionary<Hash, VersionRecord> Versions { get; } = [];

    public HashSet<Hash> Nodes { get; } = [];

    /// <summary>File hash → its size, as the tree that reached it first says.</summary>
    public Dictionary<Hash, long> Files { get; } = [];

    /// <summary>
    /// What the histories of the refs and of <paramref name="otherHeads"/> reach, with <paramref name="asIfForgotten"/>
    /// stepped over as forgotten versions are.
    /// </summary>
    public static async Task<Reachability> FromRefsAsync(
        Repository repository, IReadOnlySet<Hash>? asIfForgotten, IEnumerable<Hash> otherHeads, CancellationToken cancellationToken)
    {
        var heads = repository.ListRefs().Select(r => r.Id).Concat(otherHeads).Distinct();
        return await FromVersionsAsync(repository, heads.SelectMany(h => repository.History(h, asIfForgotten).Select(v => v.Id)), cancellationToken).ConfigureAwait(false);
    }

    public static async Task<Reachability> FromVersionsAsync(Repository repository, IEnumerable<Hash> versionIds, CancellationToken cancellationToken)
    {
        var result = new Reachability();
        foreach (var id in versionIds.Distinct())
        {
            var record = repository.GetVersion(id) ?? throw new Errors.NotFoundException($"Version record {id} is missing.");
            result.Versions[id] = record;
            await result.AddTreeAsync(repository, record.Root, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Adds the nodes and files of the tree <paramref name="root"/>, skipping subtrees already added.</summary>
    public async Task AddTreeAsync(Repository repository, Hash root, CancellationToken cancellationToken)
    {
        var pending = new Stack<Hash>([root]);
        while (pending.Count > 0)
        {
            var id = pending.Pop();
            if (!Nodes.Add(id))
            {
                continue; // the same id is the same subtree: its nodes and files are in already
            }

            var node = await TreeReader.LoadAsync(repository.Nodes, id, cancellationToken).ConfigureAwait(false);
            foreach (var child in node.Children)
            {
                pending.Push(child.NodeId);
            }

            foreach (var entry in node.Entries.Where(e => !e.FileHash.IsZero))
            {
                Files.TryAdd(entry.FileHash, entry.Size);
            }
        }
    }

    /// <summary>
    /// Where <paramref name="files"/> are used: (version, path, size) for every version in
    /// <see cref="Versions"/> whose tree holds one. Reads every version's tree whole, so it is for
    /// reports about damaged files, which are rare, not for the walk itself.
    /// </summary>
    public async Task<Dictionary<Hash, List<(Hash Version, string Path, long Size)>>> UsesAsync(Repository repository, IReadOnlySet<Hash> files, CancellationToken cancellationToken)
    {
        var uses = files.ToDictionary(f => f, _ => new List<(Hash, string, long)>());
        foreach (var (version, record) in Versions)
        {
            await foreach (var entry in TreeReader.EnumerateAsync(repository.Nodes, record.Root, cancellationToken).ConfigureAwait(false))
            {
                if (uses.TryGetValue(entry.FileHash, out var list))
                {
                    list.Add((version, entry.Path, entry.Size));
                }
            }
        }

        return uses;
    }
}
