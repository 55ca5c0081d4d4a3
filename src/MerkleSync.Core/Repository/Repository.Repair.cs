using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Repository;

/// <summary>
/// What repairing a pack did. <see cref="Intact"/>: the pack read back whole and nothing changed.
/// Otherwise its intact chunks moved to <see cref="NewPack"/> (null if none was), the damaged ones
/// that no other pack holds are <see cref="ChunksLost"/>, and the file records that used one of
/// them were removed (<see cref="FilesLost"/>): the remote now says it lacks those files, so a
/// push that asks about every file (<c>push --full</c>) from a copy that has them sends them again.
/// </summary>
public sealed record PackRepairReport(Hash PackId, bool Intact, Hash? NewPack, int ChunksKept, int ChunksLost, IReadOnlyList<Hash> FilesLost);

public sealed partial class Repository
{
    /// <summary>Ids of the indexed packs after <paramref name="after"/> (from the first, if null) in key order, at most <paramref name="max"/>: a page of them.</summary>
    public List<Hash> ListPackIds(Hash? after, int max)
    {
        var ids = new List<Hash>();
        using var cursor = Db.Seek(Families.Packs, after is { } start ? Key(start) : []);
        if (after is { } first && cursor.Valid && Hash.FromBytes(cursor.Key) == first)
        {
            cursor.Next();
        }

        for (; cursor.Valid && ids.Count < max; cursor.Next())
        {
            ids.Add(Hash.FromBytes(cursor.Key));
        }

        return ids;
    }

    /// <summary>
    /// Salvages a damaged pack, as <c>restic repair packs</c> does: reads it back (every chunk's CRC,
    /// decoding and hash), copies what is intact into a new pack, removes the file records that use
    /// a chunk now lost, rewrites the other records that used the pack, and drops it. Holds the
    /// publish lock. Order of writes as in gc: new pack and its index, file records, then the old
    /// pack's index and blob; a crash leaves the damaged pack in place for the next repair.
    /// </summary>
    public async Task<PackRepairReport> RepairPackAsync(Hash packId, CancellationToken cancellationToken)
    {
        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var pack = GetPack(packId);
            long? length = await Blobs.GetLengthAsync(PackFormat.BlobKey(packId), cancellationToken).ConfigureAwait(false);
            if (length == pack.BlobLength && (await PackReader.CheckAsync(Blobs, packId, cancellationToken).ConfigureAwait(false)).IsIntact)
            {
                return new PackRepairReport(packId, Intact: true, null, pack.Entries.Length, 0, []);
            }

            // The index entries this repository recorded when it verified the pack are what is salvaged
            // (the pack's own index may be the damaged part).
            var damaged = new List<int>();
            var moved = pack.Entries.Length == 0 ? null
                : await CopyChunksAsync(pack, [.. Enumerable.Range(0, pack.Entries.Length)], damaged, cancellationToken).ConfigureAwait(false);

            // A damaged chunk that another pack also holds is not lost: files are pointed there.
            var lost = damaged.Select(i => pack.Entries[i].ChunkHash).Where(c => GetChunkLocation(c)?.PackId == packId).ToHashSet();
            var users = Db.Scan(Families.Files)
                .Select(kv => (FileHash: Hash.FromBytes(kv.Key), Record: FileRecord.Decode(kv.Value)))
                .Where(f => f.Record.Segments.Any(s => s.PackId == packId))
                .ToList();
            var filesLost = users
                .Where(f => f.Record.Segments.Any(s => s.PackId == packId && Enumerable.Range(s.FirstIndex, s.Count).Any(i => lost.Contains(pack.Entries[i].ChunkHash))))
                .Select(f => f.FileHash)
                .ToList();
            Db.WriteDurable(batch =>
            {
                foreach (var fileHash in filesLost)
                {
                    batch.Delete(Families.Files, Key(fileHash));
                    batch.Delete(Families.Staged, StagedKey(StagedFileKind, fileHash));
                }
            });
            RewriteFiles(users.Select(f => f.FileHash).Except(filesLost));
            await DropPackAsync(pack, cancellationToken).ConfigureAwait(false);
            return new PackRepairReport(packId, Intact: false, moved?.PackId, moved?.Entries.Length ?? 0, lost.Count, filesLost);
        }
        finally
        {
            PublishLock.Release();
        }
    }
}
