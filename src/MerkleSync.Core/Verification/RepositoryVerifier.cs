using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;

namespace MerkleSync.Core.Verification;

/// <summary>One thing wrong in a repository, with the files and versions it breaks.</summary>
public sealed record VerifyProblem(string Subject, string Message, IReadOnlyList<string> Paths, IReadOnlyList<Hash> Versions)
{
    /// <summary>The pack whose data is damaged or missing, when that is the problem: what <c>repair</c> salvages.</summary>
    public Hash? DamagedPack { get; init; }
}

public sealed record VerifyReport(int Versions, int Nodes, int Files, long Chunks, int PacksRead, long BytesRead, IReadOnlyList<VerifyProblem> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Proves versions from data, like <c>restic check</c>: every tree node hashes to its id, every
/// file's chunk list hashes to the file hash and matches its size, every pack exists with the
/// length the index expects; every chunk of each pack in <c>read</c> is decoded and re-hashed.
/// Problems are collected, not thrown, and name the files and versions they break.
/// </summary>
public static class RepositoryVerifier
{
    /// <param name="progress">Counts the bytes of packs read, of all those to read (known once the files are checked).</param>
    public static async Task<VerifyReport> VerifyAsync(Repository.Repository repository, Hash? version, PackSubset read, OperationProgress? progress, CancellationToken cancellationToken)
    {
        progress?.Enter(Stage.Verifying);
        var problems = new List<VerifyProblem>();
        Reachability reach;
        try
        {
            reach = version is { } id
                ? await Reachability.FromVersionsAsync(repository, [id], cancellationToken).ConfigureAwait(false)
                : await Reachability.FromRefsAsync(repository, null, [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CorruptDataException or NotFoundException)
        {
            problems.Add(new VerifyProblem("tree", e.Message, [], version is { } v ? [v] : []));
            return new VerifyReport(0, 0, 0, 0, 0, 0, problems);
        }

        // (pack, index) → files using that chunk, to say what a bad chunk breaks.
        var users = new Dictionary<(Hash Pack, int Index), List<Hash>>();
        // Problems with the files they break; which paths of which versions those are is looked up at the end.
        var found = new List<(string Subject, string Message, IReadOnlyCollection<Hash> Files, Hash? DamagedPack)>();
        long chunks = 0;
        foreach (var (fileHash, size) in reach.Files)
        {
            string? problem = CheckFile(repository, fileHash, size, users, ref chunks);
            if (problem is not null)
            {
                found.Add(("file " + fileHash, problem, [fileHash], null));
            }
        }

        int packsRead = 0;
        long bytesRead = 0;
        var packs = users.Keys.Select(k => k.Pack).Distinct().Select(repository.GetPack).ToList();
        progress?.SetToRead(packs.Where(p => read.Includes(p.PackId)).Sum(p => p.BlobLength));
        foreach (var record in packs)
        {
            var packId = record.PackId;
            long? length = await repository.Blobs.GetLengthAsync(PackFormat.BlobKey(packId), cancellationToken).ConfigureAwait(false);
            if (length != record.BlobLength)
            {
                found.Add(("pack " + packId, length is null ? "pack file is missing" : $"pack file is {length} bytes, expected {record.BlobLength}", FilesOfPack(users, packId, null), packId));
                if (read.Includes(packId))
                {
                    progress?.AddRead(record.BlobLength); // done with, though there was nothing to read
                }

                continue;
            }

            if (!read.Includes(packId))
            {
                continue;
            }

            var check = await PackReader.CheckAsync(repository.Blobs, packId, cancellationToken).ConfigureAwait(false);
            packsRead++;
            bytesRead += record.BlobLength;
            progress?.AddRead(record.BlobLength);
            if (check.PackProblem is not null)
            {
                found.Add(("pack " + packId, check.PackProblem, check.Entries.Length == 0 ? FilesOfPack(users, packId, null) : [], packId));
            }

            foreach (var (entry, message) in check.CorruptChunks)
            {
                int index = Array.IndexOf(check.Entries, entry);
                found.Add(($"chunk {entry.ChunkHash} in pack {packId}", message, FilesOfPack(users, packId, index), packId));
            }
        }

        if (found.Count > 0)
        {
            var uses = await reach.UsesAsync(repository, found.SelectMany(f => f.Files).ToHashSet(), cancellationToken).ConfigureAwait(false);
            problems.AddRange(found.Select(f =>
            {
                var broken = f.Files.SelectMany(file => uses[file]).ToList();
                return new VerifyProblem(f.Subject, f.Message, [.. broken.Select(u => u.Path).Distinct().Order(StringComparer.Ordinal)], [.. broken.Select(u => u.Version).Distinct()])
                {
                    DamagedPack = f.DamagedPack,
                };
            }));
        }

        return new VerifyReport(reach.Versions.Count, reach.Nodes.Count, reach.Files.Count, chunks, packsRead, bytesRead, problems);
    }

    private static string? CheckFile(Repository.Repository repository, Hash fileHash, long size, Dictionary<(Hash, int), List<Hash>> users, ref long chunks)
    {
        if (repository.GetFile(fileHash) is not { } file)
        {
            return "file record is missing";
        }

        var refs = new List<ChunkRef>(file.ChunkCount);
        foreach (var segment in file.Segments)
        {
            PackRecord pack;
            try
            {
                pack = repository.GetPack(segment.PackId);
            }
            catch (NotFoundException)
            {
                return $"uses pack {segment.PackId}, which is not indexed";
            }

            if (segment.FirstIndex < 0 || segment.Count <= 0 || segment.FirstIndex + segment.Count > pack.Entries.Length)
            {
                return $"refers to chunks outside pack {segment.PackId}";
            }

            for (int i = segment.FirstIndex; i < segment.FirstIndex + segment.Count; i++)
            {
                var entry = pack.Entries[i];
                refs.Add(new ChunkRef(entry.ChunkHash, (ulong)entry.RawLength));
                if (!users.TryGetValue((segment.PackId, i), out var list))
                {
                    users[(segment.PackId, i)] = list = [];
                }

                list.Add(fileHash);
                chunks++;
            }
        }

        long length = refs.Sum(r => (long)r.Length);
        if (length != file.Length || length != size)
        {
            return $"chunks add up to {length} bytes; the record says {file.Length} and the tree {size}";
        }

        var computed = XetHashes.FileHash([.. refs]);
        return computed == fileHash ? null : $"chunk list hashes to {computed}";
    }

    private static HashSet<Hash> FilesOfPack(Dictionary<(Hash Pack, int Index), List<Hash>> users, Hash packId, int? index) =>
        [.. users.Where(u => u.Key.Pack == packId && (index is null || u.Key.Index == index)).SelectMany(u => u.Value)];
}
