using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>Reads nodes from the first store that has them (e.g. a local snapshot over a repository); writes go to the first.</summary>
public sealed class LayeredNodeStore(params ITreeNodeStore[] layers) : ITreeNodeStore
{
    public async ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken)
    {
        foreach (var layer in layers)
        {
            if (await layer.TryGetAsync(id, cancellationToken).ConfigureAwait(false) is { } node)
            {
                return node;
            }
        }

        return null;
    }

    public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => layers[0].PutAsync(id, encoded, cancellationToken);
}
