using System.Collections.Concurrent;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>Where encoded tree nodes live, addressed by node id. Puts are idempotent.</summary>
public interface ITreeNodeStore
{
    /// <summary>The encoded node, or null if this store does not have it.</summary>
    ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken);

    ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken);
}

/// <summary>A node store in memory, for snapshots that are not kept and for tests.</summary>
public sealed class MemoryTreeNodeStore : ITreeNodeStore
{
    private readonly ConcurrentDictionary<Hash, byte[]> _nodes = new();

    public int Count => _nodes.Count;

    public IEnumerable<Hash> Ids => _nodes.Keys;

    public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_nodes.TryGetValue(id, out var node) ? node : null);

    public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken)
    {
        _nodes.TryAdd(id, encoded);
        return ValueTask.CompletedTask;
    }
}
