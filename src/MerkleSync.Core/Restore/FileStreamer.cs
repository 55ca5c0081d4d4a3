using System.Runtime.CompilerServices;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <summary>
/// Writes one file of a version to a stream (<c>cat</c>), in order, each chunk verified before it
/// is written. A gc that rewrites or drops the file's pack meanwhile (a pack read gets 404) makes
/// it ask for the file's plan again, once, and go on after the chunks it already wrote: the bytes
/// written cannot be taken back, and the chunk list is the same in every plan of the file.
/// </summary>
public static class FileStreamer
{
    public static async Task WriteToAsync(IRemote remote, TreeEntry entry, Stream output, CancellationToken cancellationToken)
    {
        if (entry.FileHash.IsZero)
        {
            return;
        }

        var written = new StrongBox<int>(0);
        try
        {
            await WriteAsync(remote, await PlanAsync(remote, entry, cancellationToken).ConfigureAwait(false), output, written, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            await WriteAsync(remote, await PlanAsync(remote, entry, cancellationToken).ConfigureAwait(false), output, written, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<FileReconstruction> PlanAsync(IRemote remote, TreeEntry entry, CancellationToken cancellationToken)
    {
        var plan = await remote.GetReconstructionAsync(entry.FileHash, cancellationToken).ConfigureAwait(false);
        var refs = plan.ChunkList();
        if (XetHashes.FileHash(refs) != entry.FileHash || refs.Sum(c => (long)c.Length) != entry.Size)
        {
            throw new CorruptDataException($"The chunk list of '{entry.Path}' does not match its file hash.");
        }

        return plan;
    }

    /// <summary>Writes the file's chunks after the first <paramref name="written"/>, counting each one written.</summary>
    private static async Task WriteAsync(IRemote remote, FileReconstruction plan, Stream output, StrongBox<int> written, CancellationToken cancellationToken)
    {
        // A chunk repeated back to back (padding) comes as one segment per repeat: the last chunk
        // written, already verified, serves them instead of a ranged read each. Chunks of zeros (a
        // hole's) are known without a read at all.
        var last = (Hash: default(Hash), Bytes: Array.Empty<byte>());
        int first = 0; // the file's index of the segment's first chunk
        foreach (var (packId, run) in plan.Segments)
        {
            int next = Math.Clamp(written.Value - first, 0, run.Length);
            first += run.Length;
            while (next < run.Length)
            {
                var chunk = run[next];
                if (XetHashes.IsZeroChunk(chunk.ChunkHash) || (chunk.ChunkHash == last.Hash && last.Bytes.Length == chunk.RawLength))
                {
                    await output.WriteAsync(XetHashes.IsZeroChunk(chunk.ChunkHash) ? XetHashes.ZeroChunk : last.Bytes, cancellationToken).ConfigureAwait(false);
                    written.Value++;
                    next++;
                    continue;
                }

                int end = next + 1;
                while (end < run.Length && !XetHashes.IsZeroChunk(run[end].ChunkHash))
                {
                    end++;
                }

                int index = next;
                await remote.ReadChunksInPiecesAsync(packId, new ArraySegment<PackEntry>(run, next, end - next), async (entry, raw) =>
                {
                    await output.WriteAsync(raw, cancellationToken).ConfigureAwait(false);
                    written.Value++;
                    if (++index == end)
                    {
                        last = (entry.ChunkHash, raw.ToArray());
                    }
                }, cancellationToken).ConfigureAwait(false);
                next = end;
            }
        }
    }
}
