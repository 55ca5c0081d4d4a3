using MerkleSync.Core.ClientState;
using MerkleSync.Core.Concurrency;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;

namespace MerkleSync.Core.Sync;

/// <summary>How a push packs its chunks: the largest pack, whether chunks are compressed, and the push's pacing.</summary>
internal sealed record PackingOptions(long PackSize, Compression Compression)
{
    public UploadPacer Pacer { get; } = new(PackSize);
}

/// <summary>What a push uploaded.</summary>
internal sealed record UploadTotals(long Chunks, long RawBytes, long StoredBytes, int Packs)
{
    public static UploadTotals operator +(UploadTotals a, UploadTotals b) =>
        new(a.Chunks + b.Chunks, a.RawBytes + b.RawBytes, a.StoredBytes + b.StoredBytes, a.Packs + b.Packs);
}

/// <summary>
/// Packs and uploads a push's missing chunks, then stores the records of the files they belong to
/// (files the remote lacks, whose other chunks it has). The chunks are split, in file order, into one
/// contiguous share per lane (up to four, one per 16 MiB to send); each lane fills and streams its
/// own packs, so client and server work on several packs at once (one stream keeps each side on one
/// core), and a file's chunks still lie together in a pack, which keeps pulls to few ranged reads.
/// Lanes are not counted by cores: a lane spends much of its time waiting for the server to write
/// a piece to disk before it may send the next (tus sends one PATCH at a time per upload).
/// </summary>
internal static class ChunkUploader
{
    public const int MaxLanes = 4;

    public static async Task<UploadTotals> UploadAsync(
        List<SnapshotFile> files, IReadOnlyList<ChunkOrigin> runs, HashSet<Hash> missing, long settledBytes, IRemote remote, PackingOptions packing, OperationProgress progress,
        Task beforeRecords, int maxLanes, CancellationToken cancellationToken)
    {
        var chunks = PendingChunks(files, runs, missing);
        int count = chunks.Count;
        long toSend = chunks.Sum(p => (long)p.Length);
        progress.AddToTransfer(toSend, settledBytes);
        if (progress.Stage != Stage.Hashing)
        {
            progress.Enter(Stage.Uploading); // else this is an early round, and hashing is what the user waits for
        }

        var totals = new Totals(packing.Pacer, packing.Compression, remote, progress);
        int lanes = (int)Math.Clamp(toSend / Math.Max(1, packing.PackSize / 4), 1, maxLanes);
        using (var sideBySide = new SideBySide(cancellationToken))
        {
            await sideBySide.WhenAllAsync([.. Shares(chunks, toSend, lanes).Select(share => RunLaneAsync(share, totals, sideBySide))]).ConfigureAwait(false);
        }

        // Every chunk of these files is on the remote now: their records follow, and the remote
        // checks each against its chunks (an early group's records thus go while hashing goes on),
        // once the uploads that may hold their other chunks (beforeRecords) are done too.
        await beforeRecords.ConfigureAwait(false);
        if (files.Count > 0)
        {
            await remote.StoreFilesAsync([.. files.Select(f => new NewFile(f.Entry.FileHash, f.Content.Chunks))], cancellationToken).ConfigureAwait(false);
        }

        return new UploadTotals(count, totals.Raw, totals.Stored, totals.Packs);
    }

    /// <summary>
    /// The chunks to send, each once, with where their bytes are: those of <paramref name="runs"/>
    /// (parts of files still being hashed), then of <paramref name="files"/> in file order, that are
    /// in <paramref name="missing"/> (which this empties of them).
    /// </summary>
    public static ArraySegment<ChunkOrigin> PendingChunks(List<SnapshotFile> files, IReadOnlyList<ChunkOrigin> runs, HashSet<Hash> missing)
    {
        var pending = new ChunkOrigin[missing.Count];
        int count = 0;
        foreach (var run in runs)
        {
            if (missing.Remove(run.Hash))
            {
                pending[count++] = run;
            }
        }

        foreach (var file in files)
        {
            long offset = 0;
            foreach (var chunk in file.Content.Chunks)
            {
                if (missing.Remove(chunk.Hash))
                {
                    pending[count++] = ChunkOrigin.Of(file, offset, chunk);
                }

                offset += (long)chunk.Length;
            }
        }

        return new ArraySegment<ChunkOrigin>(pending, 0, count);
    }

    // Contiguous slices of about equal bytes.
    private static IEnumerable<ArraySegment<ChunkOrigin>> Shares(ArraySegment<ChunkOrigin> all, long bytes, int count)
    {
        int start = 0;
        long sum = 0;
        for (int lane = 1; lane <= count; lane++)
        {
            int end = start;
            long target = bytes * lane / count;
            while (end < all.Count && (sum < target || lane == count))
            {
                sum += all[end++].Length;
            }

            yield return all.Slice(start, end - start);
            start = end;
        }
    }

    private static async Task RunLaneAsync(ArraySegment<ChunkOrigin> share, Totals totals, SideBySide sideBySide)
    {
        var cancellationToken = sideBySide.Token;
        IPackUpload? pack = null;
        long rawInPack = 0;
        var completing = new Queue<(IPackUpload Upload, Task<PackSummary> Done, long Raw)>();
        try
        {
            // A batch is packed while the next one is read and encoded; a finished pack is sent
            // (and, remotely, verified) while the next one is filled.
            await foreach (var batch in EncodedBatch.ReadAllAsync(share, rehashAll: false, totals.Compression, cancellationToken).ConfigureAwait(false))
            {
                for (int i = 0; i < batch.Count; i++)
                {
                    var (origin, codec, stored, crc32C) = batch[i];
                    pack ??= await totals.Remote.BeginPackAsync(totals.Compression, cancellationToken).ConfigureAwait(false);
                    await pack.AddAsync(origin, codec, stored, crc32C, cancellationToken).ConfigureAwait(false);
                    rawInPack += origin.Length;
                    if (pack.Length >= totals.Pacer.PackSize)
                    {
                        completing.Enqueue((pack, pack.CompleteAsync(cancellationToken).AsTask(), rawInPack));
                        pack = null;
                        rawInPack = 0;
                        while (completing.Count >= totals.Pacer.InFlight)
                        {
                            await totals.CompleteAsync(completing.Dequeue()).ConfigureAwait(false);
                        }
                    }
                }
            }

            if (pack is not null)
            {
                completing.Enqueue((pack, pack.CompleteAsync(cancellationToken).AsTask(), rawInPack));
                pack = null;
            }

            while (completing.Count > 0)
            {
                await totals.CompleteAsync(completing.Dequeue()).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            await sideBySide.FailAsync(e).ConfigureAwait(false); // the other lanes stop before this one waits for its packs below
            throw;
        }
        finally
        {
            if (pack is not null)
            {
                await pack.DisposeAsync().ConfigureAwait(false);
            }

            while (completing.Count > 0)
            {
                var (upload, done, _) = completing.Dequeue();
                try
                {
                    await done.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The first failure is already on its way to the caller.
                }

                await upload.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Counters and pacing shared by the lanes.</summary>
    private sealed class Totals(UploadPacer pacer, Compression compression, IRemote remote, OperationProgress progress)
    {
        private readonly Lock _lock = new();

        public UploadPacer Pacer => pacer;

        public Compression Compression => compression;

        public IRemote Remote => remote;

        public long Raw { get; private set; }

        public long Stored { get; private set; }

        public int Packs { get; private set; }

        /// <summary>Waits for a pack the remote is finishing, then counts it.</summary>
        public async Task CompleteAsync((IPackUpload Upload, Task<PackSummary> Done, long Raw) pack)
        {
            try
            {
                long length = (await pack.Done.ConfigureAwait(false)).Length;
                lock (_lock)
                {
                    Raw += pack.Raw;
                    Stored += length;
                    Packs++;
                    pacer.OnPackCompleted(remote.Retries.Throttles);
                }

                progress.AddTransferred(pack.Raw); // counted once the remote confirmed the pack
            }
            finally
            {
                await pack.Upload.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
