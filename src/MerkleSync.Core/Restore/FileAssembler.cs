using System.Buffers;
using Microsoft.Win32.SafeHandles;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <summary>
/// Builds one file of a version in a staging folder: chunks found locally are copied (after
/// checking their hash), the rest are fetched from packs in runs of consecutive chunks. The plan's
/// chunk list is checked against the file hash before anything is written, and every chunk against
/// its hash as it is written.
/// </summary>
/// <param name="sparse">Leave chunks of zeros in large files unwritten, as holes (pull --sparse).</param>
internal sealed partial class FileAssembler(IRemote remote, LocalChunkIndex local, string stagingFolder, OperationProgress progress, bool sparse) : IDisposable
{
    /// <summary>Largest ranged read: keeps memory flat however large the file.</summary>
    private const long MaxReadBytes = RemoteExtensions.MaxReadBytes;

    private long _bytesWritten;
    private long _packBytesRead;
    private long _chunkBytesFetched;
    private long _bytesReused;

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public long PackBytesRead => Interlocked.Read(ref _packBytesRead);

    public long ChunkBytesFetched => Interlocked.Read(ref _chunkBytesFetched);

    public long BytesReused => Interlocked.Read(ref _bytesReused);

    public async Task<(string Path, ChunkedContent Content)> AssembleAsync(TreeEntry entry, CancellationToken cancellationToken)
    {
        string staged = Path.Combine(stagingFolder, ClientStateStore.StagedFileName());
        ChunkRef[] chunks = [];
        try
        {
            // Readable too: a chunk the file repeats is copied from where the file already has it.
            using (var output = File.OpenHandle(staged, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
            {
                if (!entry.FileHash.IsZero)
                {
                    var plan = await remote.GetReconstructionAsync(entry.FileHash, cancellationToken).ConfigureAwait(false);
                    chunks = plan.ChunkList();
                    // The file hash covers each chunk's hash and length: once it matches, where each
                    // chunk goes is known, and each is verified against its hash as it is written.
                    long length = chunks.Sum(c => (long)c.Length);
                    var listed = XetHashes.FileHash(chunks);
                    if (listed != entry.FileHash || length != entry.Size)
                    {
                        throw new CorruptDataException($"'{entry.Path}': the server's chunk list hashes to {listed} ({length} bytes), not {entry.FileHash} ({entry.Size} bytes).");
                    }

                    var steps = Layout(plan);
                    // Reads and copies fill their own parts of the file, several at once: one ranged
                    // read at a time left a pull of one large file waiting for each read's round trip
                    // (and the server's disk) before it could verify and write. Repeats copy from
                    // earlier in the file, so they wait until all else is written.
                    var parallel = new ParallelOptions { MaxDegreeOfParallelism = ReadsPerFile, CancellationToken = cancellationToken };
                    await Parallel.ForEachAsync(steps.Where(s => s.Kind != StepKind.Repeat), parallel, (step, ct) => WriteStepAsync(output, step, ct)).ConfigureAwait(false);
                    foreach (var step in steps.Where(s => s.Kind == StepKind.Repeat))
                    {
                        await WriteStepAsync(output, step, cancellationToken).ConfigureAwait(false);
                    }

                    RandomAccess.SetLength(output, length); // a file that ends in a hole (--sparse)
                }
            }

            local.Add(staged, chunks);
            Interlocked.Add(ref _bytesWritten, entry.Size);
            return (staged, new ChunkedContent(entry.FileHash, entry.Size, chunks));
        }
        catch
        {
            File.Delete(staged);
            throw;
        }
    }

    /// <summary>
    /// Ranged reads (or local copies) one large file keeps going at once, and ranged reads for large
    /// files in all: each holds its body (at most <see cref="MaxReadBytes"/>) until its chunks are written.
    /// </summary>
    private const int ReadsPerFile = 4, MaxReadsInFlight = 6;

    private readonly SemaphoreSlim _reads = new(MaxReadsInFlight);

    public void Dispose() => _reads.Dispose();

    private enum StepKind
    {
        /// <summary>A maximum-size chunk of zeros (what runs of zeros are cut into): its bytes are known, neither fetched nor read back.</summary>
        Zeros,

        /// <summary>A chunk that a local file holds.</summary>
        Local,

        /// <summary>A chunk that appeared earlier in this file (padding, repeated records).</summary>
        Repeat,

        /// <summary>A run of chunks from one pack: one ranged read, of bounded size.</summary>
        Fetch,
    }

    /// <summary>One part of the file: <see cref="Entries"/> (one unless a fetch) written at <see cref="Position"/>; a repeat's bytes are at <see cref="Earlier"/>.</summary>
    private readonly record struct Step(StepKind Kind, long Position, Hash PackId, ReadOnlyMemory<PackEntry> Entries, long Earlier = 0);

    /// <summary>Where each of the plan's chunks goes in the file, and where it comes from.</summary>
    private List<Step> Layout(FileReconstruction plan)
    {
        var steps = new List<Step>();
        var first = new Dictionary<Hash, long>(); // where each chunk first lies in the file
        long position = 0;
        foreach (var (packId, run) in plan.Segments)
        {
            int start = 0;
            while (start < run.Length)
            {
                var kind = KindOf(run[start]);
                long at = position;
                int end = start;
                do
                {
                    first.TryAdd(run[end].ChunkHash, position);
                    position += run[end].RawLength;
                    end++;
                }
                while (kind == StepKind.Fetch && end < run.Length && KindOf(run[end]) == StepKind.Fetch && run[end].Offset + run[end].StoredLength - run[start].Offset <= MaxReadBytes);

                steps.Add(new Step(kind, at, packId, run.AsMemory(start, end - start), first[run[start].ChunkHash]));
                start = end;
            }
        }

        return steps;

        StepKind KindOf(PackEntry entry) =>
            XetHashes.IsZeroChunk(entry.ChunkHash) ? StepKind.Zeros
            : first.ContainsKey(entry.ChunkHash) ? StepKind.Repeat
            : local.TryGet(entry.ChunkHash, out _) ? StepKind.Local
            : StepKind.Fetch;
    }

    private async ValueTask WriteStepAsync(SafeFileHandle output, Step step, CancellationToken cancellationToken)
    {
        var entry = step.Entries.Span[0];
        switch (step.Kind)
        {
            case StepKind.Zeros:
                WriteChunk(output, XetHashes.ZeroChunk.Span, step.Position);
                Interlocked.Add(ref _bytesReused, XetHashes.ZeroChunk.Length);
                progress.AddTransferred(XetHashes.ZeroChunk.Length);
                break;
            case StepKind.Repeat:
                await CopyLocalAsync(step, data => TryReadVerifiedAsync(entry.ChunkHash, output, step.Earlier, data, cancellationToken), output, cancellationToken).ConfigureAwait(false);
                break;
            case StepKind.Local when local.TryGet(entry.ChunkHash, out var source):
                await CopyLocalAsync(step, data => TryReadLocalAsync(entry.ChunkHash, source, data, cancellationToken), output, cancellationToken).ConfigureAwait(false);
                break;
            default:
                await FetchAsync(step, output, cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// Writes a chunk at its place; with --sparse a chunk of zeros (of any length) is left unwritten,
    /// a hole. The write blocks: .NET has no asynchronous file writes on Unix (an awaited write is the
    /// same blocking write, queued to another pool thread), and that hop for each chunk, ~16 000 per
    /// GiB, cost more than the write (1 GiB pulls, twelve pairs: medians 1.93-1.96 → 1.88-1.90 s).
    /// </summary>
    private void WriteChunk(SafeFileHandle output, ReadOnlySpan<byte> chunk, long position)
    {
        if (!sparse || chunk.ContainsAnyExcept((byte)0))
        {
            RandomAccess.Write(output, chunk, position);
        }
    }

    /// <summary>Reads the step's chunks from their pack, verified, into their places in the file.</summary>
    private async ValueTask FetchAsync(Step step, SafeFileHandle output, CancellationToken cancellationToken)
    {
        var entries = step.Entries.Span;
        Interlocked.Add(ref _packBytesRead, entries[^1].Offset + entries[^1].StoredLength - entries[0].Offset);
        long position = step.Position;
        await _reads.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await remote.ReadChunksAsync(step.PackId, step.Entries, (entry, raw) =>
            {
                WriteChunk(output, raw.Span, position);
                position += raw.Length;
                CountFetched(entry.RawLength);
                return ValueTask.CompletedTask;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _reads.Release();
        }
    }

    /// <summary>Copies a chunk that <paramref name="tryRead"/> finds locally and verifies; from its pack if that fails.</summary>
    private async Task CopyLocalAsync(Step step, Func<Memory<byte>, Task<bool>> tryRead, SafeFileHandle output, CancellationToken cancellationToken)
    {
        var entry = step.Entries.Span[0];
        byte[] buffer = ArrayPool<byte>.Shared.Rent(entry.RawLength);
        try
        {
            var data = buffer.AsMemory(0, entry.RawLength);
            if (!await tryRead(data).ConfigureAwait(false))
            {
                await FetchAsync(step, output, cancellationToken).ConfigureAwait(false);
                return;
            }

            WriteChunk(output, data.Span, step.Position);
            progress.AddTransferred(entry.RawLength);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a chunk from a local file into <paramref name="destination"/> (its exact length) and
    /// checks its hash. False when the local copy changed since it was indexed: fetch it instead.
    /// </summary>
    private async Task<bool> TryReadLocalAsync(Hash chunk, (string Path, long Offset, int Length) source, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(source.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
        return await TryReadVerifiedAsync(chunk, handle, source.Offset, destination, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> TryReadVerifiedAsync(Hash chunk, SafeFileHandle handle, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int read = await RandomAccess.ReadAsync(handle, destination, offset, cancellationToken).ConfigureAwait(false);
        if (read != destination.Length || XetHashes.ChunkHash(destination.Span) != chunk)
        {
            return false;
        }

        Interlocked.Add(ref _bytesReused, destination.Length);
        return true;
    }

    /// <summary>A chunk placed from a pack: the pull's result and its progress count it alike.</summary>
    private void CountFetched(long rawBytes)
    {
        Interlocked.Add(ref _chunkBytesFetched, rawBytes);
        progress.AddTransferred(rawBytes);
    }
}
