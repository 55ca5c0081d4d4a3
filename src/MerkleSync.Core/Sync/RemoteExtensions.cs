using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

public static class RemoteExtensions
{
    /// <summary>Largest ranged read; keeps memory flat however long a run of chunks is.</summary>
    public const long MaxReadBytes = 4 << 20;

    /// <summary><see cref="IRemote.ReadChunksAsync"/> over a run of any length, in reads of at most <see cref="MaxReadBytes"/>.</summary>
    public static async ValueTask ReadChunksInPiecesAsync(
        this IRemote remote, Hash packId, PackEntry[] run, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken)
    {
        int start = 0;
        while (start < run.Length)
        {
            int end = start + 1;
            while (end < run.Length && run[end].Offset + run[end].StoredLength - run[start].Offset <= MaxReadBytes)
            {
                end++;
            }

            await remote.ReadChunksAsync(packId, run.AsMemory(start, end - start), onChunk, cancellationToken).ConfigureAwait(false);
            start = end;
        }
    }
}
