using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;

namespace MerkleSync.Core.Sync;

/// <summary>Asks the remote what it lacks: files first (one hash stands for all its chunks), then the chunks of missing files.</summary>
internal static class Negotiation
{
    /// <summary>The files the remote lacks, each content once; files already in <paramref name="asked"/> are skipped, the rest added.</summary>
    public static async Task<List<SnapshotFile>> MissingFilesAsync(IRemote remote, IEnumerable<SnapshotFile> files, HashSet<Hash> asked, CancellationToken cancellationToken)
    {
        var byHash = new Dictionary<Hash, SnapshotFile>();
        foreach (var file in files)
        {
            if (!file.Entry.FileHash.IsZero && asked.Add(file.Entry.FileHash))
            {
                byHash.Add(file.Entry.FileHash, file);
            }
        }

        var hashes = byHash.Keys.ToList();
        bool[] have = await remote.HaveFilesAsync(hashes, cancellationToken).ConfigureAwait(false);
        return [.. hashes.Where((_, i) => !have[i]).Select(h => byHash[h])];
    }

    /// <summary>
    /// The chunks of <paramref name="files"/> and <paramref name="runs"/> the remote lacks; chunks
    /// already in <paramref name="settled"/> (sent or found earlier in this push) are skipped, the rest added.
    /// </summary>
    public static async Task<HashSet<Hash>> MissingChunksAsync(
        IRemote remote, List<SnapshotFile> files, IReadOnlyList<ChunkOrigin> runs, HashSet<Hash> settled, CancellationToken cancellationToken)
    {
        // Sized once: a large push has a hundred thousand chunks, and sets and lists grown by
        // doubling leave large-object garbage behind.
        var candidates = new List<Hash>(files.Sum(f => f.Content.Chunks.Length) + runs.Count);
        foreach (var hash in files.SelectMany(f => f.Content.Chunks).Select(c => c.Hash).Concat(runs.Select(r => r.Hash)))
        {
            if (settled.Add(hash))
            {
                candidates.Add(hash);
            }
        }

        bool[] have = await remote.HaveChunksAsync(candidates, cancellationToken).ConfigureAwait(false);
        var missing = new HashSet<Hash>(have.Count(h => !h));
        for (int i = 0; i < candidates.Count; i++)
        {
            if (!have[i])
            {
                missing.Add(candidates[i]);
            }
        }

        return missing;
    }
}
