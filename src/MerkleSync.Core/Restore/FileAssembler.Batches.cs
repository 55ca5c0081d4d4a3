using MerkleSync.Core.Buffers;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <summary>
/// Small files are built many at a time, in memory: their plans come in one request, and the
/// chunks they need from one pack come in as few ranged reads as their neighbourhood allows (as
/// restic's restorer does), each chunk fetched once however many files of the batch use it. One
/// request per file cost more than the bytes: 10 000 files of 1-16 KiB took 10-14 s.
/// </summary>
internal sealed partial class FileAssembler
{
    /// <summary>
    /// Files up to this size are built in batches; larger ones stream, one by one. Files of 1-4 MiB
    /// (a plan request, a ranged read and a write each, two at a time) pulled at about 300 MB/s; in
    /// batches a pull of the 1 GiB set went 2.67 → 2.58 s, client and server both ~0.1 CPU-s less.
    /// </summary>
    public const long SmallFileBytes = 4 << 20;

    private const int BatchFiles = 4096;

    /// <summary>
    /// Small files are staged in this many subfolders of the staging folder, consecutive files in
    /// different ones: files created in one folder by several threads at once wait for that folder's
    /// lock, on which the kernel spins (12% of a 100k-file pull's samples).
    /// </summary>
    private const int StagingShards = 16;

    private string[]? _shards;

    /// <summary>Bytes of file content in one batch: the memory a batch holds.</summary>
    private const int BatchBytes = 16 << 20;

    /// <summary>Consecutive groups of small files, bounded in count and in bytes.</summary>
    private static IEnumerable<List<TreeEntry>> Batches(IEnumerable<TreeEntry> smallFiles)
    {
        var batch = new List<TreeEntry>();
        long bytes = 0;
        foreach (var file in smallFiles)
        {
            if (file.Size > SmallFileBytes)
            {
                throw new ArgumentException($"'{file.Path}' is not a small file.", nameof(smallFiles)); // a batch's buffer holds 4 small files at least
            }

            if (batch.Count == BatchFiles || bytes + file.Size > BatchBytes)
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(file);
            bytes += file.Size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>
    /// Builds files of at most <see cref="SmallFileBytes"/> in the staging folder, batch after batch;
    /// the next batch comes in while the last one is written, each into its own buffer.
    /// </summary>
    public async Task AssembleSmallFilesAsync(IEnumerable<TreeEntry> files, Action<(TreeEntry Entry, string Path, ChunkedContent Content)> onBuilt, CancellationToken cancellationToken)
    {
        var buffers = new LargeBuffer?[2];
        try
        {
            FetchedBatch? fetched = null;
            int count = 0;
            foreach (var batch in Batches(files))
            {
                _shards ??= [.. Enumerable.Range(0, StagingShards).Select(k => Directory.CreateDirectory(Path.Combine(stagingFolder, $"s{k}")).FullName)];
                var buffer = buffers[count++ % 2] ??= new LargeBuffer(BatchBytes);
                var fetching = FetchAsync(batch, buffer.Memory, fetched?.Slots, cancellationToken);
                if (fetched is not null)
                {
                    try
                    {
                        await WriteAsync(fetched, onBuilt, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        await Task.WhenAny(fetching).ConfigureAwait(false); // stops using the buffers before they go; the write's failure is the one to report
                        throw;
                    }
                }

                fetched = await fetching.ConfigureAwait(false);
            }

            if (fetched is not null)
            {
                await WriteAsync(fetched, onBuilt, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var buffer in buffers)
            {
                buffer?.Dispose();
            }
        }
    }

    /// <summary>A batch's plans and the content of every distinct chunk it needs, verified.</summary>
    private sealed record FetchedBatch(IReadOnlyList<TreeEntry> Files, Dictionary<Hash, FileReconstruction> Plans, Dictionary<Hash, Memory<byte>> Slots);

    /// <summary>
    /// Gives every distinct chunk of the batch a slot in <paramref name="buffer"/> (the batch's
    /// bytes bound their total) and fills it: from the previous batch's slots, from a local file,
    /// or from its pack, with neighbouring chunks of a pack in one read.
    /// </summary>
    private async Task<FetchedBatch> FetchAsync(IReadOnlyList<TreeEntry> batch, Memory<byte> buffer, Dictionary<Hash, Memory<byte>>? previous, CancellationToken cancellationToken)
    {
        var plans = await PlanAsync(batch, cancellationToken).ConfigureAwait(false);
        var slots = new Dictionary<Hash, Memory<byte>>();
        var fromPacks = new Dictionary<Hash, List<PackEntry>>();
        int used = 0;
        foreach (var plan in plans.Values)
        {
            foreach (var (packId, run) in plan.Segments)
            {
                foreach (var entry in run)
                {
                    if (slots.ContainsKey(entry.ChunkHash))
                    {
                        continue;
                    }

                    var slot = buffer.Slice(used, entry.RawLength);
                    used += entry.RawLength;
                    slots.Add(entry.ChunkHash, slot);
                    if (previous is not null && previous.TryGetValue(entry.ChunkHash, out var inMemory))
                    {
                        inMemory.CopyTo(slot);
                    }
                    else if (!(local.TryGet(entry.ChunkHash, out var source) && await TryReadLocalAsync(entry.ChunkHash, source, slot, cancellationToken).ConfigureAwait(false)))
                    {
                        (fromPacks.TryGetValue(packId, out var list) ? list : fromPacks[packId] = []).Add(entry);
                    }
                }
            }
        }

        var reads = fromPacks.SelectMany(pack => RemoteExtensions.CoalescedReads(pack.Value).Select(read => (PackId: pack.Key, Read: read))).ToList();
        await Parallel.ForEachAsync(reads, InParallel(cancellationToken), async (read, ct) =>
        {
            Interlocked.Add(ref _packBytesRead, read.Read[^1].Offset + read.Read[^1].StoredLength - read.Read[0].Offset);
            await remote.ReadChunksAsync(read.PackId, read.Read, (entry, raw) =>
            {
                raw.CopyTo(slots[entry.ChunkHash]);
                Interlocked.Add(ref _chunkBytesFetched, entry.RawLength);
                return ValueTask.CompletedTask;
            }, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return new FetchedBatch(batch, plans, slots);
    }

    private async Task WriteAsync(FetchedBatch fetched, Action<(TreeEntry, string, ChunkedContent)> onBuilt, CancellationToken cancellationToken)
    {
        var batch = fetched.Files;
        var built = new (TreeEntry Entry, string Path, ChunkedContent Content)[batch.Count];
        try
        {
            await Parallel.ForAsync(0, batch.Count, InParallel(cancellationToken), (i, _) =>
            {
                var entry = batch[i];
                built[i] = WriteSmallFile(entry, entry.FileHash.IsZero ? null : fetched.Plans[entry.FileHash], fetched.Slots, _shards![i % StagingShards]);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);
        }
        catch
        {
            foreach (var (_, path, _) in built.Where(b => b.Path is not null))
            {
                File.Delete(path);
            }

            throw;
        }

        foreach (var file in built)
        {
            onBuilt(file);
        }
    }

    private static ParallelOptions InParallel(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = cancellationToken };

    /// <summary>The batch's plans, each checked to add up to the size the tree gives its file (which bounds the batch's memory).</summary>
    private async Task<Dictionary<Hash, FileReconstruction>> PlanAsync(IReadOnlyList<TreeEntry> batch, CancellationToken cancellationToken)
    {
        var hashes = batch.Where(e => !e.FileHash.IsZero).Select(e => e.FileHash).Distinct().ToList();
        var plans = (await remote.GetReconstructionsAsync(hashes, cancellationToken).ConfigureAwait(false)).ToDictionary(p => p.FileHash);
        foreach (var entry in batch.Where(e => !e.FileHash.IsZero))
        {
            var plan = plans[entry.FileHash];
            long length = plan.Segments.Sum(s => s.Run.Sum(e => (long)e.RawLength));
            if (length != entry.Size || plan.Length != entry.Size)
            {
                throw new CorruptDataException($"'{entry.Path}': the server's plan for {entry.FileHash} adds up to {length} bytes, the tree says {entry.Size}.");
            }
        }

        return plans;
    }

    /// <summary>
    /// Stages one small file from chunks in memory with a blocking write: .NET has no asynchronous
    /// file writes on Unix (an awaited write is the same blocking write, queued to another pool
    /// thread), and for a file of a few KiB that hop costs more than the write.
    /// </summary>
    private (TreeEntry, string, ChunkedContent) WriteSmallFile(TreeEntry entry, FileReconstruction? plan, Dictionary<Hash, Memory<byte>> slots, string folder)
    {
        var chunks = plan?.ChunkList() ?? [];
        var content = new ChunkedContent(XetHashes.FileHash(chunks), entry.Size, chunks);
        if (content.FileHash != entry.FileHash)
        {
            throw new CorruptDataException($"'{entry.Path}': the server's chunk list hashes to {content.FileHash}, not {entry.FileHash}.");
        }

        string staged = Path.Combine(folder, ClientStateStore.StagedFileName());
        try
        {
            using (var handle = File.OpenHandle(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, [.. chunks.Select(c => (ReadOnlyMemory<byte>)slots[c.Hash])], 0);
            }

            local.Add(staged, chunks);
            Interlocked.Add(ref _bytesWritten, entry.Size);
            progress.AddTransferred(entry.Size);
            return (entry, staged, content);
        }
        catch
        {
            File.Delete(staged);
            throw;
        }
    }
}
