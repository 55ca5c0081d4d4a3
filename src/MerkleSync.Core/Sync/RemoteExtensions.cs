using System.Runtime.CompilerServices;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync.Protocol;

namespace MerkleSync.Core.Sync;

public static class RemoteExtensions
{
    /// <summary>Largest ranged read; keeps memory flat however long a run of chunks is.</summary>
    public const long MaxReadBytes = 4 << 20;

    public static async ValueTask<FileReconstruction> GetReconstructionAsync(this IRemote remote, Hash fileHash, CancellationToken cancellationToken) =>
        (await remote.GetReconstructionsAsync([fileHash], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>Unneeded bytes between two needed chunks of a pack that one read spans rather than making two.</summary>
    public const long MaxGapBytes = 256 << 10;

    /// <summary>
    /// Distinct entries of one pack as ranged reads for <see cref="IRemote.ReadChunksAsync"/>: sorted
    /// by offset, split where the gap since the last entry exceeds <see cref="MaxGapBytes"/> or the
    /// read would exceed <see cref="MaxReadBytes"/>.
    /// </summary>
    public static IEnumerable<PackEntry[]> CoalescedReads(IEnumerable<PackEntry> entries)
    {
        var sorted = entries.OrderBy(e => e.Offset).ToList();
        int start = 0;
        for (int i = 1; i <= sorted.Count; i++)
        {
            bool split = i == sorted.Count
                || sorted[i].Offset - (sorted[i - 1].Offset + sorted[i - 1].StoredLength) > MaxGapBytes
                || sorted[i].Offset + sorted[i].StoredLength - sorted[start].Offset > MaxReadBytes;
            if (split)
            {
                yield return sorted[start..i].ToArray();
                start = i;
            }
        }
    }

    /// <summary>
    /// <see cref="IRemote.ReadChunksAsync"/> over any number of entries of one pack, in the reads
    /// <see cref="CoalescedReads"/> groups them into (a run of consecutive chunks: pieces of at most
    /// <see cref="MaxReadBytes"/>), in offset order.
    /// </summary>
    public static async ValueTask ReadChunksInPiecesAsync(
        this IRemote remote, Hash packId, IEnumerable<PackEntry> entries, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken)
    {
        foreach (var read in CoalescedReads(entries))
        {
            await remote.ReadChunksAsync(packId, read, onChunk, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every version a branch or tag reaches, each once.</summary>
    public static async Task<IReadOnlyList<VersionRef>> ReachableVersionsAsync(this IRemote remote, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<Hash, VersionRef>();
        foreach (var (_, id) in await remote.ListRefsAsync(cancellationToken).ConfigureAwait(false))
        {
            await foreach (var version in remote.HistoryInPagesAsync(id, long.MaxValue, cancellationToken).ConfigureAwait(false))
            {
                if (!versions.TryAdd(version.Id, version))
                {
                    break; // seen from another ref, with all its ancestors
                }
            }
        }

        return [.. versions.Values];
    }

    /// <summary>
    /// Up to <paramref name="max"/> version records from <paramref name="head"/> back along their
    /// parents, newest first, read in pages of at most <paramref name="pageSize"/> (the server's
    /// limit): a history longer than one page is not cut short. The first page must start at
    /// <paramref name="head"/>; a later one starts at the parent the page before ended on, or, when
    /// that was forgotten, at the version kept behind it, and is empty where the history ends.
    /// </summary>
    public static async IAsyncEnumerable<VersionRef> HistoryInPagesAsync(
        this IRemote remote, Hash head, long max, [EnumeratorCancellation] CancellationToken cancellationToken, int pageSize = WireFormat.MaxHistoryPerRequest)
    {
        // Bounded by the history: each page moves at least one record down it, and as a page may
        // step over forgotten records (which no hash links), a record met twice ends the walk.
        var seen = new HashSet<Hash>();
        var next = head;
        while (max > 0 && !next.IsZero)
        {
            var page = await remote.HistoryAsync(next, (int)Math.Min(max, pageSize), cancellationToken).ConfigureAwait(false);
            if (page.Count == 0 && next != head)
            {
                yield break; // the parent was forgotten: the history ends with the page before
            }

            if (page.Count == 0 || (next == head && page[0].Id != next))
            {
                throw new CorruptDataException($"Asked for the history from record {next}, got {(page.Count == 0 ? "none" : $"one from {page[0].Id}")}.");
            }

            foreach (var version in page)
            {
                if (!seen.Add(version.Id))
                {
                    throw new CorruptDataException($"The history from record {head} comes back to record {version.Id}.");
                }

                yield return version;
            }

            max -= page.Count;
            next = page[^1].Record.Parent;
        }
    }
}
