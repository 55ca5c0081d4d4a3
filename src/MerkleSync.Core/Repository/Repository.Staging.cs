using System.Buffers;
using MerkleSync.Core.Collections;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Serialization;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>A file the repository does not know yet, described by its chunk list.</summary>
public sealed record NewFile(Hash FileHash, ChunkRef[] Chunks);

/// <summary>
/// What a version needs besides its packs, stored ahead of its publish in bounded parts so that a
/// publish stays small however large the version: file records (checked completely when stored)
/// and tree nodes (checked for their ids here, for their place in the tree when a publish names
/// them). Until a version uses them they are <em>staged</em>: garbage collection keeps them for
/// its grace period, like young packs, and a publish finishes checking the staged nodes it reaches.
/// </summary>
public sealed partial class Repository
{
    /// <summary>Chunks checked per locked, atomic part of <see cref="StoreFilesAsync"/>: bounds its memory and how long it holds the lock.</summary>
    private const int StagePartChunks = 16_384;

    /// <summary>Tree nodes per locked, atomic part of <see cref="StoreNodesAsync"/>.</summary>
    private const int StagePartNodes = 4_096;

    private const byte StagedFileKind = (byte)'f';
    private const byte StagedNodeKind = (byte)'n';

    /// <summary>
    /// Checks and stores file records: every chunk must be stored with the claimed raw length, and
    /// the chunk list must hash to the file hash. Files already stored are skipped. Parts of at most
    /// <see cref="StagePartChunks"/> chunks are written atomically one after another; a bad file
    /// stops the call with nothing of its part written.
    /// </summary>
    public async Task StoreFilesAsync(IReadOnlyList<NewFile> files, CancellationToken cancellationToken)
    {
        foreach (var part in Runs.Bounded(files, f => f.Chunks.Length, StagePartChunks))
        {
            await WithPublishLockAsync(() => StoreFilePart(files, part), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks that each node hashes to its id and decodes, and stores the ones not stored yet.</summary>
    public async Task StoreNodesAsync(IReadOnlyList<KeyValuePair<Hash, byte[]>> nodes, CancellationToken cancellationToken)
    {
        foreach (var (id, bytes) in nodes)
        {
            if (TreeFormat.NodeId(bytes) != id)
            {
                throw new CorruptDataException($"Tree node {id} does not hash to its id.");
            }

            _ = TreeNode.Decode(bytes);
        }

        foreach (var part in nodes.Chunk(StagePartNodes))
        {
            await WithPublishLockAsync(() => Db.WriteDurable(batch =>
            {
                byte[] staged = StagedTime();
                var have = HaveNodes([.. part.Select(n => n.Key)]);
                foreach (var (id, bytes) in part.Where((_, i) => !have[i]))
                {
                    batch.Put(Families.Nodes, Key(id), bytes);
                    batch.Put(Families.Staged, StagedKey(StagedNodeKind, id), staged);
                }
            }), cancellationToken).ConfigureAwait(false);
        }
    }

    private void StoreFilePart(IReadOnlyList<NewFile> files, Range part)
    {
        var (start, count) = part.GetOffsetAndLength(files.Count);
        // The part's lookups in two calls of many, its files, then the chunks of those not stored:
        // a part of small files is thousands of lookups (see RocksStore.GetMany).
        var stored = HaveFiles([.. files.Skip(start).Take(count).Select(f => f.FileHash)]);
        var firstLocation = new int[count];
        var chunks = new List<Hash>();
        for (int f = 0; f < count; f++)
        {
            firstLocation[f] = chunks.Count;
            if (!stored[f])
            {
                chunks.AddRange(files[start + f].Chunks.Select(c => c.Hash));
            }
        }

        var chunkLocations = GetChunkLocations(chunks);
        var records = new Dictionary<Hash, (FileRecord Record, long NewBytes)>(count);
        var referenced = new Dictionary<Hash, ChunkLocation>();
        for (int f = 0; f < count; f++)
        {
            var file = files[start + f];
            if (stored[f] || records.ContainsKey(file.FileHash))
            {
                continue;
            }

            if (file.Chunks.Length == 0)
            {
                throw new InvalidInputException($"File {file.FileHash} has no chunks; empty files need no record.");
            }

            var locations = new ChunkLocation[file.Chunks.Length];
            long length = 0, newBytes = 0;
            for (int i = 0; i < file.Chunks.Length; i++)
            {
                var chunk = file.Chunks[i];
                var location = chunkLocations[firstLocation[f] + i] ?? throw new NotFoundException($"File {file.FileHash} uses chunk {chunk.Hash}, which the repository does not have.");
                var entry = GetPack(location.PackId).Entries[location.Index];
                if ((ulong)entry.RawLength != chunk.Length)
                {
                    throw new CorruptDataException($"File {file.FileHash} claims chunk {chunk.Hash} is {chunk.Length} bytes; it is {entry.RawLength}.");
                }

                if (!location.Referenced && referenced.TryAdd(chunk.Hash, location with { Referenced = true }))
                {
                    newBytes += entry.RawLength;
                }

                locations[i] = location;
                length += entry.RawLength;
            }

            var computed = XetHashes.FileHash(file.Chunks);
            if (computed != file.FileHash)
            {
                throw new CorruptDataException($"File claimed as {file.FileHash} hashes to {computed} from its chunks.");
            }

            records[file.FileHash] = (new FileRecord(length, FileRecord.ToSegments(locations)), newBytes);
        }

        Db.WriteDurable(batch =>
        {
            long now = NowUnixMs;
            // In key order, here and below: a memtable inserts each key next to the one before it
            // instead of searching its skip list from the top (random hashes cost a cache miss per level).
            foreach (var (hash, (record, newBytes)) in records.OrderBy(r => r.Key))
            {
                batch.Put(Families.Files, Key(hash), record.Encode());
                batch.Put(Families.Staged, StagedKey(StagedFileKind, hash), new StagedFile(now, record.Length, newBytes).Encode());
            }

            var encoded = new ArrayBufferWriter<byte>(64);
            Span<byte> key = stackalloc byte[Hash.Size];
            foreach (var (chunk, location) in referenced.OrderBy(r => r.Key))
            {
                encoded.ResetWrittenCount();
                location.WriteTo(encoded);
                chunk.WriteTo(key);
                batch.Put(Families.Chunks, key, encoded.WrittenSpan);
            }
        });
    }

    private async Task WithPublishLockAsync(Action action, CancellationToken cancellationToken)
    {
        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            action();
        }
        finally
        {
            PublishLock.Release();
        }
    }

    private static byte[] StagedKey(byte kind, Hash hash)
    {
        byte[] key = new byte[1 + Hash.Size];
        key[0] = kind;
        hash.WriteTo(key.AsSpan(1));
        return key;
    }

    private byte[] StagedTime()
    {
        var writer = new ArrayBufferWriter<byte>(Varint.MaxLength);
        Varint.Write(writer, (ulong)NowUnixMs);
        return writer.WrittenSpan.ToArray();
    }

    private bool IsStagedNode(Hash node) => Db.Has(Families.Staged, StagedKey(StagedNodeKind, node));

    /// <summary>
    /// Staged files and nodes stored after <paramref name="cutoffUnixMs"/> (kept by gc), and the keys
    /// of all staged marks from then or before, as gc treats young packs: with no grace, what was
    /// staged in the very millisecond gc started is collected too.
    /// </summary>
    private (HashSet<Hash> Files, HashSet<Hash> Nodes, List<byte[]> Expired) ListStaged(long cutoffUnixMs)
    {
        var (files, nodes, expired) = (new HashSet<Hash>(), new HashSet<Hash>(), new List<byte[]>());
        foreach (var (key, value) in Db.Scan(Families.Staged))
        {
            if (new SpanReader(value).ReadInt64Varint() <= cutoffUnixMs)
            {
                expired.Add(key);
            }
            else
            {
                (key[0] == StagedFileKind ? files : nodes).Add(Hash.FromBytes(key.AsSpan(1)));
            }
        }

        return (files, nodes, expired);
    }

    /// <summary>A staged file's mark: when it was stored, its length, and the bytes of chunks it was the first file to use.</summary>
    private readonly record struct StagedFile(long StoredUnixMs, long Length, long NewBytes)
    {
        public byte[] Encode()
        {
            var writer = new ArrayBufferWriter<byte>(3 * Varint.MaxLength);
            Varint.Write(writer, (ulong)StoredUnixMs);
            Varint.Write(writer, (ulong)Length);
            Varint.Write(writer, (ulong)NewBytes);
            return writer.WrittenSpan.ToArray();
        }

        public static StagedFile Decode(ReadOnlySpan<byte> data)
        {
            var reader = new SpanReader(data);
            return new StagedFile(reader.ReadInt64Varint(), reader.ReadInt64Varint(), reader.ReadInt64Varint());
        }
    }
}
