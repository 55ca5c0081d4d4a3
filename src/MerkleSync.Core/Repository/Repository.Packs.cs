using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Repository;

/// <summary>A pack being written into a repository; complete it to make its chunks available.</summary>
public interface IPackUpload : IAsyncDisposable
{
    /// <summary>Bytes of the pack so far (header and chunks).</summary>
    long Length { get; }

    /// <summary>
    /// Appends a chunk encoded by the caller, with the CRC-32C of its stored bytes. <paramref name="origin"/>
    /// says where its raw bytes can be read again, should an interrupted upload have to be rebuilt.
    /// </summary>
    ValueTask AddAsync(ChunkOrigin origin, Codec codec, ReadOnlyMemory<byte> stored, uint crc32C, CancellationToken cancellationToken);

    /// <summary>Finishes the pack, stores it durably, then indexes its chunks (in that order).</summary>
    ValueTask<PackSummary> CompleteAsync(CancellationToken cancellationToken);
}

public sealed partial class Repository
{
    /// <summary>Starts a pack written straight into the blob store (staged until complete).</summary>
    public async ValueTask<IPackUpload> BeginPackAsync(CancellationToken cancellationToken)
    {
        var blob = await Blobs.CreateAsync(cancellationToken).ConfigureAwait(false);
        return new LocalPackUpload(this, blob);
    }

    /// <summary>
    /// Indexes a pack that is already in the blob store. With <paramref name="verifyData"/> every
    /// chunk is decoded and re-hashed and the pack id checked first (for packs from elsewhere);
    /// without, the index is read back and must match <paramref name="expected"/> (for packs this
    /// process just wrote). Chunks already indexed elsewhere keep their location.
    /// </summary>
    public async ValueTask<PackRecord> IndexPackAsync(Hash packId, bool verifyData, PackSummary? expected, CancellationToken cancellationToken)
    {
        var entries = await ReadVerifiedEntriesAsync(packId, verifyData, expected, cancellationToken).ConfigureAwait(false);

        // Under the publish lock, so garbage collection never drops a chunk location this adds.
        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await WriteIndexAsync(packId, entries, relocate: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            PublishLock.Release();
        }
    }

    private async ValueTask<PackEntry[]> ReadVerifiedEntriesAsync(Hash packId, bool verifyData, PackSummary? expected, CancellationToken cancellationToken)
    {
        PackEntry[] entries;
        if (verifyData)
        {
            var check = await PackReader.CheckAsync(Blobs, packId, cancellationToken).ConfigureAwait(false);
            if (!check.IsIntact)
            {
                throw new CorruptDataException($"Pack {packId} failed verification: {check.PackProblem ?? check.CorruptChunks[0].Problem}");
            }

            entries = check.Entries;
        }
        else
        {
            entries = await PackReader.ReadIndexAsync(Blobs, packId, cancellationToken).ConfigureAwait(false);
            if (expected is not null && !entries.SequenceEqual(expected.Entries))
            {
                throw new CorruptDataException($"Pack {packId} reads back with a different index than was written.");
            }
        }

        return entries;
    }

    /// <summary>
    /// Records a pack and points chunks at it: only chunks not indexed yet, or with
    /// <paramref name="relocate"/> all of them (garbage collection moving chunks to a new pack).
    /// Caller holds the publish lock.
    /// </summary>
    private async ValueTask<PackRecord> WriteIndexAsync(Hash packId, PackEntry[] entries, bool relocate, CancellationToken cancellationToken)
    {
        long length = await Blobs.GetLengthAsync(PackFormat.BlobKey(packId), cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"Pack {packId} vanished while being indexed.");
        var record = new PackRecord(packId, length, NowUnixMs, entries);
        // In key order: see StoreFilePart.
        int[] order = [.. Enumerable.Range(0, entries.Length).OrderBy(i => entries[i].ChunkHash)];
        var existing = GetChunkLocations([.. order.Select(i => entries[i].ChunkHash)]);
        Db.WriteDurable(batch =>
        {
            batch.Put(Families.Packs, Key(packId), record.Encode());
            for (int k = 0; k < order.Length; k++)
            {
                if (existing[k] is null || relocate)
                {
                    int i = order[k];
                    batch.Put(Families.Chunks, Key(entries[i].ChunkHash), new ChunkLocation(packId, i, existing[k]?.Referenced ?? false).Encode());
                }
            }
        });
        return record;
    }

    public bool HasPack(Hash packId) => Db.Has(Families.Packs, Key(packId));

    public IEnumerable<PackRecord> ListPacks() => Db.Scan(Families.Packs).Select(kv => PackRecord.Decode(Hash.FromBytes(kv.Key), kv.Value));

    /// <summary>
    /// Repairs what a crash can leave: staged blobs are removed; a pack in the store that nothing
    /// indexes (the crash came between storing and indexing it) is verified and indexed if it
    /// adds chunks, else removed. Nothing else needs repair, because every write that others
    /// depend on is ordered after what it depends on: pack before index, index before files,
    /// everything before the ref.
    /// </summary>
    public Task<RecoveryReport> RecoverAsync(CancellationToken cancellationToken) => RecoverAsync(listStore: true, cancellationToken);

    /// <summary>
    /// <see cref="RecoverAsync(CancellationToken)"/>; without <paramref name="listStore"/> (the last
    /// process closed the repository clean) the store is not listed: on S3 that is a request per
    /// thousand packs.
    /// </summary>
    internal async Task<RecoveryReport> RecoverAsync(bool listStore, CancellationToken cancellationToken)
    {
        Blobs.RemoveAbandonedStaging();
        ExpireUploads();
        // Unsettled until the listing is through: a recovery cut short must run again next time.
        return listStore ? await SettleStoreChangeAsync(() => RecoverStoredPacksAsync(cancellationToken)).ConfigureAwait(false) : new RecoveryReport(0, 0);
    }

    private async Task<RecoveryReport> RecoverStoredPacksAsync(CancellationToken cancellationToken)
    {
        int indexed = 0, dropped = 0;
        await foreach (string key in Blobs.ListAsync("packs", cancellationToken).ConfigureAwait(false))
        {
            if (PackFormat.ParseBlobKey(key) is not { } packId)
            {
                continue;
            }

            if (HasPack(packId))
            {
                continue;
            }

            var check = await PackReader.CheckAsync(Blobs, packId, cancellationToken).ConfigureAwait(false);
            if (check.IsIntact && check.Entries.Any(e => !HasChunk(e.ChunkHash)))
            {
                await IndexPackAsync(packId, verifyData: false, expected: null, cancellationToken).ConfigureAwait(false);
                indexed++;
            }
            else
            {
                await Blobs.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                dropped++;
            }
        }

        return new RecoveryReport(indexed, dropped);
    }

    private sealed class LocalPackUpload(Repository repository, IBlobWriter blob) : IPackUpload
    {
        private PackWriter Writer { get; } = new(blob.Content);

        public long Length => Writer.Length;

        public ValueTask AddAsync(ChunkOrigin origin, Codec codec, ReadOnlyMemory<byte> stored, uint crc32C, CancellationToken cancellationToken) =>
            Writer.AddEncodedAsync(origin.Hash, origin.Length, codec, stored, crc32C, cancellationToken);

        public async ValueTask<PackSummary> CompleteAsync(CancellationToken cancellationToken)
        {
            var summary = await Writer.FinishAsync(cancellationToken).ConfigureAwait(false);
            return await repository.SettleStoreChangeAsync(async () =>
            {
                await blob.CommitAsync(PackFormat.BlobKey(summary.PackId), cancellationToken).ConfigureAwait(false);
                await repository.IndexPackAsync(summary.PackId, verifyData: false, summary, cancellationToken).ConfigureAwait(false);
                return summary;
            }).ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => blob.DisposeAsync();
    }
}

/// <summary>What opening a repository repaired.</summary>
public sealed record RecoveryReport(int PacksIndexed, int PacksDropped);
