using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>A file the repository does not know yet, described by its chunk list.</summary>
public sealed record NewFile(Hash FileHash, ChunkRef[] Chunks);

/// <summary>
/// Everything needed to publish a version: the tree nodes and files the repository lacks, the
/// claimed root, and the branch head the client built on (null for a new branch).
/// </summary>
public sealed record PublishRequest(
    string Branch, Hash? ExpectedHead, Hash Root, IReadOnlyList<KeyValuePair<Hash, byte[]>> Nodes, IReadOnlyList<NewFile> Files, string Author, string Message);

public sealed partial class Repository
{
    /// <summary>
    /// Checks a version completely, then stores it and moves the branch by compare-and-swap. Every
    /// new file hash is recomputed from its chunks (which must all be stored), every new node is
    /// checked against its id and its children, and every entry's size against its file. Nothing
    /// is written unless all of it holds; a stale <see cref="PublishRequest.ExpectedHead"/> is a
    /// <see cref="ConflictException"/>.
    /// </summary>
    public async Task<(Hash Id, VersionRecord Record)> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var branch = RefName.Branch(request.Branch);
        if (request.Message.Length > VersionRecord.MaxTextBytes / 4 || request.Author.Length > 256)
        {
            throw new InvalidInputException("The version message or author is too long.");
        }

        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var head = GetRef(branch);
            if (head != request.ExpectedHead)
            {
                throw new ConflictException(
                    $"Branch '{request.Branch}' is at {Describe(head)}, not at {Describe(request.ExpectedHead)} as this push expected: someone else published first. Pull, then push again.");
            }

            var nodes = VerifyNodes(request.Nodes);
            var (files, newBytes, published) = VerifyFiles(request.Files);
            var counts = await VerifyTreeAsync(request.Root, nodes, files, cancellationToken).ConfigureAwait(false);
            await VerifyCanonicalAsync(request.Root, nodes, cancellationToken).ConfigureAwait(false);

            var record = new VersionRecord(request.Root, head ?? Hash.Zero, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                request.Author, request.Message, counts.Entries, counts.Bytes, newBytes);
            var id = record.Id;
            Db.WriteDurable(batch =>
            {
                foreach (var (hash, file) in files)
                {
                    batch.Put(Families.Files, Key(hash), file.Encode());
                }

                foreach (var (chunk, location) in published)
                {
                    batch.Put(Families.Chunks, Key(chunk), location.Encode());
                }

                foreach (var (nodeId, node) in nodes)
                {
                    batch.Put(Families.Nodes, Key(nodeId), node.Bytes);
                }

                batch.Put(Families.Versions, Key(id), record.Encode());
                batch.Put(Families.Refs, branch.Key, id.ToArray());
            });
            return (id, record);
        }
        finally
        {
            PublishLock.Release();
        }
    }

    /// <summary>
    /// Creates, moves or (with a null <paramref name="target"/>) deletes a branch by
    /// compare-and-swap: the branch must be at <paramref name="expected"/> (null: must not exist),
    /// else a <see cref="ConflictException"/>. Serialised with publishes.
    /// </summary>
    public async Task UpdateBranchAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken)
    {
        var branch = RefName.Branch(name);
        if (target is { } version && GetVersion(version) is null)
        {
            throw new NotFoundException($"Version record {version} does not exist.");
        }

        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var head = GetRef(branch);
            if (head != expected)
            {
                throw new ConflictException($"Branch '{name}' is at {Describe(head)}, not at {Describe(expected)}.");
            }

            Db.WriteDurable(batch =>
            {
                if (target is { } id)
                {
                    batch.Put(Families.Refs, branch.Key, id.ToArray());
                }
                else
                {
                    batch.Delete(Families.Refs, branch.Key);
                }
            });
        }
        finally
        {
            PublishLock.Release();
        }
    }

    private static string Describe(Hash? head) => head is { } h ? $"version {h}" : "no version (a new branch)";

    private static Dictionary<Hash, (byte[] Bytes, TreeNode Node)> VerifyNodes(IReadOnlyList<KeyValuePair<Hash, byte[]>> provided)
    {
        var nodes = new Dictionary<Hash, (byte[], TreeNode)>(provided.Count);
        foreach (var (id, bytes) in provided)
        {
            if (TreeFormat.NodeId(bytes) != id)
            {
                throw new CorruptDataException($"Tree node {id} does not hash to its id.");
            }

            nodes[id] = (bytes, TreeNode.Decode(bytes));
        }

        return nodes;
    }

    private (Dictionary<Hash, FileRecord> Files, long NewBytes, Dictionary<Hash, ChunkLocation> Published) VerifyFiles(IReadOnlyList<NewFile> provided)
    {
        var files = new Dictionary<Hash, FileRecord>(provided.Count);
        var published = new Dictionary<Hash, ChunkLocation>(provided.Sum(f => f.Chunks.Length)); // sized once: no growth garbage on the large-object heap
        long newBytes = 0;
        foreach (var file in provided)
        {
            if (file.Chunks.Length == 0)
            {
                throw new InvalidInputException($"File {file.FileHash} has no chunks; empty files need no record.");
            }

            var locations = new ChunkLocation[file.Chunks.Length];
            long length = 0;
            for (int i = 0; i < file.Chunks.Length; i++)
            {
                var chunk = file.Chunks[i];
                var location = GetChunkLocation(chunk.Hash) ?? throw new NotFoundException($"File {file.FileHash} uses chunk {chunk.Hash}, which the repository does not have.");
                var entry = GetPack(location.PackId).Entries[location.Index];
                if ((ulong)entry.RawLength != chunk.Length)
                {
                    throw new CorruptDataException($"File {file.FileHash} claims chunk {chunk.Hash} is {chunk.Length} bytes; it is {entry.RawLength}.");
                }

                if (!location.Published && !published.ContainsKey(chunk.Hash))
                {
                    newBytes += entry.RawLength;
                    published[chunk.Hash] = location with { Published = true };
                }

                locations[i] = location;
                length += entry.RawLength;
            }

            var computed = XetHashes.FileHash(file.Chunks);
            if (computed != file.FileHash)
            {
                throw new CorruptDataException($"File claimed as {file.FileHash} hashes to {computed} from its chunks.");
            }

            files[file.FileHash] = new FileRecord(length, FileRecord.ToSegments(locations));
        }

        return (files, newBytes, published);
    }

    /// <summary>
    /// Walks the new part of the tree (nodes stored earlier were checked when they were stored) and
    /// returns the root's entry and byte counts. Checks levels, the counts and last paths that
    /// parents record for children, and that siblings do not overlap.
    /// </summary>
    private async Task<(long Entries, long Bytes)> VerifyTreeAsync(
        Hash root, Dictionary<Hash, (byte[] Bytes, TreeNode Node)> nodes, Dictionary<Hash, FileRecord> files, CancellationToken cancellationToken)
    {
        var visited = new Dictionary<Hash, Subtree>();

        async ValueTask<Subtree> Visit(Hash id, int? expectedLevel)
        {
            if (visited.TryGetValue(id, out var known))
            {
                return known;
            }

            bool isNew = nodes.TryGetValue(id, out var provided);
            var node = isNew ? provided.Node : await TreeReader.LoadAsync(Nodes, id, cancellationToken).ConfigureAwait(false);
            if ((expectedLevel is { } level && node.Level != level) || (expectedLevel is not null && node.Count == 0))
            {
                throw new CorruptDataException($"Tree node {id} is at level {node.Level} with {node.Count} items where a level-{expectedLevel} child is expected.");
            }

            Subtree result;
            if (node.IsLeaf)
            {
                long bytes = 0;
                foreach (var entry in node.Entries)
                {
                    if (isNew)
                    {
                        long length = entry.FileHash.IsZero ? 0
                            : files.TryGetValue(entry.FileHash, out var file) ? file.Length
                            : GetFile(entry.FileHash)?.Length ?? throw new NotFoundException($"'{entry.Path}' refers to file {entry.FileHash}, which was neither sent nor stored.");
                        if (length != entry.Size)
                        {
                            throw new CorruptDataException($"'{entry.Path}' claims {entry.Size} bytes; its file has {length}.");
                        }
                    }

                    bytes += entry.Size;
                }

                result = new Subtree(node.Entries.Count, bytes, node.Count > 0 ? node.Entries[0].Path : "", node.Count > 0 ? node.Entries[^1].Path : "");
            }
            else if (!isNew)
            {
                // Checked when stored; only its first path is needed, from the leftmost leaf.
                var first = await Visit(node.Children[0].NodeId, node.Level - 1).ConfigureAwait(false);
                result = new Subtree(node.Children.Sum(c => c.EntryCount), node.Children.Sum(c => c.TotalBytes), first.FirstPath, node.Children[^1].LastPath);
            }
            else
            {
                long entries = 0, bytes = 0;
                string? firstPath = null, previousLast = null;
                foreach (var child in node.Children)
                {
                    var sub = await Visit(child.NodeId, node.Level - 1).ConfigureAwait(false);
                    bool ordered = previousLast is null || DatasetPath.Compare(previousLast, sub.FirstPath) < 0;
                    if (sub.Entries != child.EntryCount || sub.Bytes != child.TotalBytes || sub.LastPath != child.LastPath || !ordered)
                    {
                        throw new CorruptDataException($"Tree node {id} describes child {child.NodeId} wrongly (counts, last path or order).");
                    }

                    firstPath ??= sub.FirstPath;
                    previousLast = sub.LastPath;
                    entries += sub.Entries;
                    bytes += sub.Bytes;
                }

                result = new Subtree(entries, bytes, firstPath!, previousLast!);
            }

            visited[id] = result;
            return result;
        }

        var top = await Visit(root, null).ConfigureAwait(false);
        return (top.Entries, top.Bytes);
    }

    private readonly record struct Subtree(long Entries, long Bytes, string FirstPath, string LastPath);

    /// <summary>
    /// Rebuilds the tree from its entries and requires the same root: the same entries must always
    /// give the same version id, so a client may not publish a valid but differently shaped tree.
    /// Costs a walk of all entries (about a second per million).
    /// </summary>
    private async Task VerifyCanonicalAsync(Hash root, Dictionary<Hash, (byte[] Bytes, TreeNode Node)> nodes, CancellationToken cancellationToken)
    {
        var source = new LayeredNodeStore(new ProvidedNodes(nodes), Nodes);
        var rebuilt = await TreeBuilder.BuildAsync(
            TreeReader.EnumerateAsync(source, root, cancellationToken), new DiscardingNodeStore(), cancellationToken).ConfigureAwait(false);
        if (rebuilt != root)
        {
            throw new CorruptDataException($"Tree {root} is not in canonical form: its entries build {rebuilt}.");
        }
    }

    private sealed class ProvidedNodes(Dictionary<Hash, (byte[] Bytes, TreeNode Node)> nodes) : ITreeNodeStore
    {
        public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken) =>
            ValueTask.FromResult(nodes.TryGetValue(id, out var node) ? node.Bytes : null);

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class DiscardingNodeStore : ITreeNodeStore
    {
        public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken) => ValueTask.FromResult<byte[]?>(null);

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
