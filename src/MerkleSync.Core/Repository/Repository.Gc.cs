using System.Buffers.Binary;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.Repository;

/// <param name="Grace">
/// Packs indexed, and files and nodes staged, more recently than this are left alone: they may belong to a push that has not
/// published yet. So is what versions forgotten, or left by a branch or tag, more recently than this reach.
/// </param>
/// <param name="RewriteBelow">A pack whose live bytes fall below this fraction is rewritten with only its live chunks.</param>
/// <param name="DryRun">Only report what would be removed; change nothing (a rewritten pack's new size is estimated by its live chunks' stored bytes).</param>
/// <param name="AsIfForgotten">In a dry run, versions to judge as if a forget had just dropped them (what <c>forget --dry-run --prune</c> estimates).</param>
public sealed record GcOptions(TimeSpan Grace, double RewriteBelow = 0.5, bool DryRun = false, IReadOnlySet<Hash>? AsIfForgotten = null)
{
    public static GcOptions Default { get; } = new(TimeSpan.FromHours(1));
}

/// <summary>A version a branch or tag left at <paramref name="LeftAt"/> (deleted, or moved to another version), which gc still keeps.</summary>
public sealed record DroppedRef(RefName Name, Hash Id, DateTimeOffset LeftAt);

public sealed record GcReport(int VersionsRemoved, int FilesRemoved, int NodesRemoved, int PacksDeleted, int PacksRewritten, long BytesFreed, long BytesKept, bool DryRun = false);

public sealed partial class Repository
{
    /// <summary>
    /// Removes what no branch or tag reaches: version records, tree nodes, file records, and chunks
    /// (dropping packs that hold no live chunk, rewriting packs that hold mostly garbage). Holds the
    /// publish lock throughout, so no version can start referring to a chunk while it is judged;
    /// young packs and files and nodes staged recently (see <see cref="GcOptions.Grace"/>) are never
    /// touched, so the uploads of a push in flight survive, and neither is what a version forgotten, or
    /// left by a branch or tag, within that period reaches. Order of writes: new pack and its index,
    /// then file records that move to it, then removal of the old pack's index, then of its blob; a
    /// crash anywhere leaves every reachable chunk reachable.
    /// </summary>
    public async Task<GcReport> CollectGarbageAsync(GcOptions options, CancellationToken cancellationToken)
    {
        var asIfForgotten = options.AsIfForgotten ?? new HashSet<Hash>();
        if (asIfForgotten.Count > 0 && !options.DryRun)
        {
            throw new ArgumentException("Only a dry run can judge versions as if they were forgotten.", nameof(options));
        }

        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // In milliseconds, not DateTimeOffset: a grace longer than the time since 0001 (say, forever) keeps everything.
            long cutoff = NowUnixMs - (long)options.Grace.TotalMilliseconds;

            // A version a branch or tag left within the grace period keeps its history, as a ref
            // would: a pull may be reading it, and `branch NAME VERSION` can still bring it back.
            var dropped = DroppedHeads().ToLookup(
                d => options.Grace > TimeSpan.Zero && d.Marker?.LeftAt.ToUnixTimeMilliseconds() > cutoff && GetVersion(d.Id) is not null, d => d.Id);
            var reach = await Reachability.FromRefsAsync(this, asIfForgotten, dropped[true], cancellationToken).ConfigureAwait(false);

            // So does what a version forgotten within it reaches: a pull may be reading it, or a push
            // may have been told the server has its chunks.
            var forgottenWithin = ForgottenRootsSince(cutoff).Concat(asIfForgotten.Select(GetVersion).OfType<VersionRecord>().Select(r => r.Root));
            foreach (var root in options.Grace > TimeSpan.Zero ? forgottenWithin : [])
            {
                await reach.AddTreeAsync(this, root, cancellationToken).ConfigureAwait(false);
            }

            // Dead records, nodes and files; what a push staged within the grace period is kept.
            var staged = ListStaged(cutoff);
            // A forget removes its versions' records itself.
            var deadVersions = ListVersions().Select(v => v.Id).Where(id => !reach.Versions.ContainsKey(id) && !asIfForgotten.Contains(id)).ToList();
            var deadNodes = Db.Scan(Families.Nodes).Select(kv => Hash.FromBytes(kv.Key)).Where(id => !reach.Nodes.Contains(id) && !staged.Nodes.Contains(id)).ToList();
            var deadFiles = Db.Scan(Families.Files).Select(kv => Hash.FromBytes(kv.Key)).Where(id => !reach.Files.ContainsKey(id) && !staged.Files.Contains(id)).ToList();
            if (!options.DryRun)
            {
                Db.WriteDurable(batch =>
                {
                    deadVersions.ForEach(id => batch.Delete(Families.Versions, Key(id)));
                    deadNodes.ForEach(id => batch.Delete(Families.Nodes, Key(id)));
                    deadFiles.ForEach(id => batch.Delete(Families.Files, Key(id)));
                    staged.Expired.ForEach(key => batch.Delete(Families.Staged, key));
                    dropped[false].ToList().ForEach(id => batch.Delete(Families.Meta, DroppedKey(id)));
                });
            }

            // Live chunks per pack, and the files that use each pack.
            var live = new Dictionary<Hash, HashSet<int>>();
            var filesByPack = new Dictionary<Hash, HashSet<Hash>>();
            foreach (var fileHash in reach.Files.Keys.Concat(staged.Files))
            {
                foreach (var segment in GetFile(fileHash)?.Segments ?? [])
                {
                    if (!live.TryGetValue(segment.PackId, out var indices))
                    {
                        live[segment.PackId] = indices = [];
                        filesByPack[segment.PackId] = [];
                    }

                    filesByPack[segment.PackId].Add(fileHash);
                    for (int i = 0; i < segment.Count; i++)
                    {
                        indices.Add(segment.FirstIndex + i);
                    }
                }
            }

            int deleted = 0, rewritten = 0;
            long freed = 0, kept = 0;
            foreach (var pack in ListPacks().ToList())
            {
                var used = live.GetValueOrDefault(pack.PackId) ?? [];
                long liveBytes = used.Sum(i => (long)pack.Entries[i].StoredLength);
                long storedBytes = pack.Entries.Sum(e => (long)e.StoredLength);
                if (pack.IndexedAtUnixMs > cutoff || (used.Count > 0 && liveBytes >= storedBytes * options.RewriteBelow))
                {
                    kept += pack.BlobLength;
                    continue;
                }

                if (used.Count > 0)
                {
                    if (options.DryRun)
                    {
                        kept += liveBytes; // the new pack's size, but for its header and index
                    }
                    else
                    {
                        kept += (await CopyLiveChunksAsync(pack, used, cancellationToken).ConfigureAwait(false)).BlobLength;
                        RewriteFiles(filesByPack[pack.PackId]);
                    }

                    rewritten++;
                }
                else
                {
                    deleted++;
                }

                if (!options.DryRun)
                {
                    await DropPackAsync(pack, cancellationToken).ConfigureAwait(false);
                }

                freed += pack.BlobLength;
            }

            return new GcReport(deadVersions.Count, deadFiles.Count, deadNodes.Count, deleted, rewritten, freed, kept, options.DryRun);
        }
        finally
        {
            PublishLock.Release();
        }
    }

    /// <summary>
    /// The versions that branches and tags left (deleted, or moved to another version) and that gc
    /// still keeps, newest first, each with the ref that last left it: what `branch NAME RECORD`
    /// can still bring back.
    /// </summary>
    public IReadOnlyList<DroppedRef> ListDropped() =>
        [.. DroppedHeads().Select(d => d.Marker).OfType<DroppedRef>().Where(d => GetVersion(d.Id) is not null).OrderByDescending(d => d.LeftAt)];

    /// <summary>Meta key prefix of a dropped head's marker (the prefix, then the record id a branch or tag left; the value: when, Unix ms, i64 little-endian, then the ref's key).</summary>
    private static readonly byte[] DroppedPrefix = "dropped/"u8.ToArray();

    private static byte[] DroppedKey(Hash id) => [.. DroppedPrefix, .. id.ToArray()];

    private static byte[] DroppedMarker(long unixMs, RefName name)
    {
        byte[] marker = new byte[sizeof(long) + name.Key.Length];
        BinaryPrimitives.WriteInt64LittleEndian(marker, unixMs);
        name.Key.CopyTo(marker, sizeof(long));
        return marker;
    }

    /// <summary>The versions branches and tags left, each with its marker read back (null where the marker is damaged: gc drops it).</summary>
    internal IEnumerable<(Hash Id, DroppedRef? Marker)> DroppedHeads() =>
        Db.Scan(Families.Meta, DroppedPrefix).Select(kv =>
        {
            var id = Hash.FromBytes(kv.Key.AsSpan(DroppedPrefix.Length));
            return kv.Value.Length > sizeof(long)
                && UnixTime.FromMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(kv.Value)) is { } leftAt
                && RefName.TryFromKey(kv.Value[sizeof(long)..]) is { } name
                ? (id, new DroppedRef(name, id, leftAt))
                : (id, (DroppedRef?)null);
        });

    private async Task<PackRecord> CopyLiveChunksAsync(PackRecord pack, HashSet<int> used, CancellationToken cancellationToken) =>
        (await CopyChunksAsync(pack, [.. used.Order()], damaged: null, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// Copies the chunks at <paramref name="order"/> (ascending indices) into a new pack and moves
    /// their index entries to it. Without <paramref name="damaged"/> a chunk that fails its CRC, or
    /// is cut short, stops the copy before anything changed (gc); with it, such chunks (and ones
    /// that fail their hash) are added there and left out, and null is returned if none was intact
    /// (repair).
    /// </summary>
    private async Task<PackRecord?> CopyChunksAsync(PackRecord pack, int[] order, List<int>? damaged, CancellationToken cancellationToken)
    {
        await using var upload = await Blobs.CreateAsync(cancellationToken).ConfigureAwait(false);
        var writer = new PackWriter(upload.Content);
        var (first, last) = (pack.Entries[order[0]], pack.Entries[order[^1]]);
        byte[] stored = new byte[Chunking.ChunkingParameters.MaximumChunkSize];
        byte[] raw = damaged is null ? [] : new byte[Chunking.ChunkingParameters.MaximumChunkSize];

        // One sequential read over the chunks' span, gaps read past: a store like S3 would
        // otherwise answer one request per chunk.
        Stream? source = null;
        try
        {
            source = await Blobs.OpenReadAsync(PackFormat.BlobKey(pack.PackId), first.Offset, last.Offset + last.StoredLength - first.Offset, cancellationToken).ConfigureAwait(false);
        }
        catch (Errors.NotFoundException) when (damaged is not null)
        {
            // The pack file is gone: nothing to salvage.
        }

        await using (source)
        {
            long position = first.Offset;
            for (int i = 0; i < order.Length; i++)
            {
                var entry = pack.Entries[order[i]];
                bool intact = source is not null && entry.Offset >= position // entries are stored in index order
                    && await TrySkipAsync(source, entry.Offset - position, stored, cancellationToken).ConfigureAwait(false)
                    && await TryReadAsync(source, stored.AsMemory(0, entry.StoredLength), cancellationToken).ConfigureAwait(false);
                if (!intact)
                {
                    // Cut short (or out of order): nothing after this chunk can be read in sequence.
                    damaged?.AddRange(order[i..]);
                    break;
                }

                position = entry.Offset + entry.StoredLength;
                var span = stored.AsMemory(0, entry.StoredLength);
                if (Crc32C.Compute(span.Span) != entry.Crc32C || (damaged is not null && !DecodesTo(entry, span, raw)))
                {
                    damaged?.Add(order[i]);
                    continue;
                }

                await writer.AddEncodedAsync(entry.ChunkHash, entry.RawLength, entry.Codec, span, entry.Crc32C, cancellationToken).ConfigureAwait(false); // checked just above
            }

            if (damaged is null && writer.Count < order.Length)
            {
                throw Damaged(pack);
            }
        }

        if (writer.Count == 0)
        {
            return null; // disposed uncommitted: nothing is stored
        }

        var summary = await writer.FinishAsync(cancellationToken).ConfigureAwait(false);
        return await SettleStoreChangeAsync(async () =>
        {
            await upload.CommitAsync(PackFormat.BlobKey(summary.PackId), cancellationToken).ConfigureAwait(false);
            return await WriteIndexAsync(summary.PackId, [.. summary.Entries], relocate: true, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static bool DecodesTo(PackEntry entry, ReadOnlyMemory<byte> stored, byte[] scratch)
    {
        try
        {
            ChunkCodec.DecodeVerified(entry.Codec, stored, entry.ChunkHash, entry.RawLength, scratch);
            return true;
        }
        catch (Errors.CorruptDataException)
        {
            return false;
        }
    }

    private static async Task<bool> TrySkipAsync(Stream source, long gap, byte[] scratch, CancellationToken cancellationToken)
    {
        for (; gap > 0; gap -= scratch.Length)
        {
            if (!await TryReadAsync(source, scratch.AsMemory(0, (int)Math.Min(gap, scratch.Length)), cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<bool> TryReadAsync(Stream source, Memory<byte> buffer, CancellationToken cancellationToken) =>
        await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) == buffer.Length;

    private static Errors.CorruptDataException Damaged(PackRecord pack) =>
        new($"Pack {pack.PackId} is damaged; garbage collection stopped before changing anything for it. Run verify --read-data, then repair.");

    // After chunks moved, a file's segments are rebuilt from the chunks' current locations.
    private void RewriteFiles(IEnumerable<Hash> files)
    {
        Db.WriteDurable(batch =>
        {
            foreach (var fileHash in files)
            {
                var record = GetFile(fileHash)!;
                var locations = record.Segments
                    .SelectMany(s => Enumerable.Range(s.FirstIndex, s.Count).Select(i => GetPack(s.PackId).Entries[i].ChunkHash))
                    .Select(chunk => GetChunkLocation(chunk)!.Value);
                batch.Put(Families.Files, Key(fileHash), (record with { Segments = FileRecord.ToSegments(locations) }).Encode());
            }
        });
    }

    private Task DropPackAsync(PackRecord pack, CancellationToken cancellationToken) => SettleStoreChangeAsync(async () =>
    {
        Db.WriteDurable(batch =>
        {
            batch.Delete(Families.Packs, Key(pack.PackId));
            foreach (var entry in pack.Entries)
            {
                if (GetChunkLocation(entry.ChunkHash) is { } location && location.PackId == pack.PackId)
                {
                    batch.Delete(Families.Chunks, Key(entry.ChunkHash));
                }
            }
        });
        _packCache.TryRemove(pack.PackId, out _);
        await Blobs.DeleteAsync(PackFormat.BlobKey(pack.PackId), cancellationToken).ConfigureAwait(false);
    });
}
