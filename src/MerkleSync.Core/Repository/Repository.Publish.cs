using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>
/// A version to publish: the claimed root, whose files and nodes the repository must already hold
/// (stored by <see cref="Repository.StoreFilesAsync"/> and <see cref="Repository.StoreNodesAsync"/>),
/// and the branch head the client built on (null for a new branch).
/// </summary>
public sealed record PublishRequest(string Branch, Hash? ExpectedHead, Hash Root, string Author, string Message);

public sealed partial class Repository
{
    /// <summary>
    /// Checks a version completely, then stores it and moves the branch by compare-and-swap. Every
    /// staged node the root reaches is checked against its children, and every entry of a staged
    /// leaf against its file's size (nodes and files a version already uses were checked then; file
    /// records were checked when stored). Nothing is written unless all of it holds; a stale
    /// <see cref="PublishRequest.ExpectedHead"/> is a <see cref="ConflictException"/>. Memory grows
    /// with the new nodes and files, not with their chunks.
    /// </summary>
    public async Task<(Hash Id, VersionRecord Record)> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var branch = RefName.Branch(request.Branch);
        if (request.Message.Length > VersionRecord.MaxMessageLength || request.Author.Length > 256)
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

            var tree = await VerifyTreeAsync(request.Root, cancellationToken).ConfigureAwait(false);

            var record = new VersionRecord(request.Root, head ?? Hash.Zero, NowUnixMs,
                request.Author, request.Message, tree.Entries, tree.Bytes, tree.NewBytes);
            var id = record.Id;
            Db.WriteDurable(batch =>
            {
                // What this version uses is no longer staged: gc keeps it as reachable from now on.
                tree.Settled.ForEach(key => batch.Delete(Families.Staged, key));
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
    /// else a <see cref="ConflictException"/>. Serialised with publishes. The version a branch or tag
    /// leaves gets a dropped-head marker, so a gc keeps its history for the grace period.
    /// </summary>
    public Task UpdateBranchAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        UpdateRefAsync(RefName.Branch(name), target, expected, cancellationToken);

    /// <summary>Creates, moves or (with a null <paramref name="target"/>) deletes a tag, by compare-and-swap as for branches.</summary>
    public Task UpdateTagAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        UpdateRefAsync(RefName.Tag(name), target, expected, cancellationToken);

    private async Task UpdateRefAsync(RefName name, Hash? target, Hash? expected, CancellationToken cancellationToken)
    {
        if (target is { } version && GetVersion(version) is null)
        {
            throw new NotFoundException($"Version record {version} does not exist.");
        }

        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = GetRef(name);
            if (current != expected)
            {
                throw new ConflictException($"{(name.IsTag ? "Tag" : "Branch")} '{name.Name}' is at {Describe(current, name)}, not at {Describe(expected, name)}.");
            }

            Db.WriteDurable(batch =>
            {
                if (target is { } id)
                {
                    batch.Put(Families.Refs, name.Key, id.ToArray());
                }
                else
                {
                    batch.Delete(Families.Refs, name.Key);
                }

                if (current is { } left && left != target)
                {
                    batch.Put(Families.Meta, DroppedKey(left), DroppedMarker(NowUnixMs, name));
                }
            });
        }
        finally
        {
            PublishLock.Release();
        }
    }

    private static string Describe(Hash? head, RefName? name = null) =>
        head is { } h ? $"version {h}" : name is { IsTag: true } ? "no version (no such tag)" : "no version (a new branch)";

    /// <summary>
    /// Walks the staged part of the tree (nodes a version already uses were checked when it was
    /// published) and returns the root's entry and byte counts, the bytes of chunks first used by
    /// the staged files it reaches, and the staged marks to clear. Checks levels, the counts and
    /// last paths that parents record for children, that siblings do not overlap, each entry of a
    /// staged leaf against its file's length, and that the tree is the one its entries build, so
    /// the same entries always give the same version id (<see cref="CheckShape"/>).
    /// </summary>
    private async Task<CheckedTree> VerifyTreeAsync(Hash root, CancellationToken cancellationToken)
    {
        var visited = new Dictionary<Hash, Subtree>();
        var settled = new List<byte[]>();
        var claims = new List<(Hash File, long Size)>(); // the path is not kept: a push may add millions of files

        // lastInLevel: the node ends its level (it is on the path from the root to the last leaf).
        async ValueTask<Subtree> Visit(Hash id, int? expectedLevel, bool lastInLevel)
        {
            if (visited.TryGetValue(id, out var known))
            {
                return known;
            }

            bool isNew = IsStagedNode(id);
            var node = isNew ? await LoadCanonicalAsync(id, cancellationToken).ConfigureAwait(false) : await TreeReader.LoadAsync(Nodes, id, cancellationToken).ConfigureAwait(false);
            if ((expectedLevel is { } level && node.Level != level) || (expectedLevel is not null && node.Count == 0))
            {
                throw new CorruptDataException($"Tree node {id} is at level {node.Level} with {node.Count} items where a level-{expectedLevel} child is expected.");
            }

            if (expectedLevel is null && !node.IsLeaf && node.Count < 2)
            {
                throw new CorruptDataException($"Tree {id} is not in canonical form: its root has one child, which would be the root.");
            }

            if (isNew)
            {
                CheckShape(id, node, lastInLevel, wholeNode: true);
            }
            else if (!lastInLevel)
            {
                // Checked when published, where it may have ended its level: here it must close, as
                // must the nodes along its right edge.
                await CheckRightEdgeClosesAsync(id, node, cancellationToken).ConfigureAwait(false);
            }

            Subtree result;
            if (node.IsLeaf)
            {
                long bytes = 0;
                foreach (var entry in node.Entries)
                {
                    if (isNew && DatasetPath.IsInStateFolder(entry.Path))
                    {
                        throw new InvalidInputException($"'{entry.Path}' lies in a '{DatasetPath.StateFolderName}' folder, a client's state, which a version never holds.");
                    }

                    if (isNew && entry.FileHash.IsZero && entry.Size != 0)
                    {
                        throw new CorruptDataException($"'{entry.Path}' claims {entry.Size} bytes; its file has 0.");
                    }

                    if (isNew && !entry.FileHash.IsZero)
                    {
                        claims.Add((entry.FileHash, entry.Size));
                    }

                    bytes += entry.Size;
                }

                result = new Subtree(node.Entries.Count, bytes, node.Count > 0 ? node.Entries[0].Path : "", node.Count > 0 ? node.Entries[^1].Path : "");
            }
            else if (!isNew)
            {
                // Checked when published; only its first path is needed, from the leftmost leaf.
                var first = await Visit(node.Children[0].NodeId, node.Level - 1, lastInLevel && node.Count == 1).ConfigureAwait(false);
                result = new Subtree(node.Children.Sum(c => c.EntryCount), node.Children.Sum(c => c.TotalBytes), first.FirstPath, node.Children[^1].LastPath);
            }
            else
            {
                long entries = 0, bytes = 0;
                string? firstPath = null, previousLast = null;
                for (int i = 0; i < node.Count; i++)
                {
                    var child = node.Children[i];
                    var sub = await Visit(child.NodeId, node.Level - 1, lastInLevel && i == node.Count - 1).ConfigureAwait(false);
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

            if (isNew)
            {
                settled.Add(StagedKey(StagedNodeKind, id));
            }

            visited[id] = result;
            return result;
        }

        var top = await Visit(root, null, lastInLevel: true).ConfigureAwait(false);
        long newBytes = CheckFiles(claims, settled);
        return new CheckedTree(top.Entries, top.Bytes, newBytes, settled);
    }

    /// <summary>
    /// Checks the sizes that staged leaves claim for their files and settles the staged files among
    /// them, returning the bytes they were first to use. The claims are taken in key order against
    /// one cursor over the staged marks: a first push of many files claims most of them, and
    /// stepping through them costs far less than a lookup each.
    /// </summary>
    private long CheckFiles(List<(Hash File, long Size)> claims, List<byte[]> settled)
    {
        claims.Sort(static (a, b) => a.File.CompareTo(b.File));
        long newBytes = 0, length = 0;
        Span<byte> key = stackalloc byte[1 + Hash.Size];
        key[0] = StagedFileKind;
        using var cursor = Db.Seek(Families.Staged, key[..1]);
        for (int i = 0; i < claims.Count; i++)
        {
            var (file, size) = claims[i];
            if (i == 0 || claims[i - 1].File != file)
            {
                file.WriteTo(key[1..]);
                MoveTo(cursor, key);
                if (cursor.Valid && cursor.Key.SequenceEqual(key))
                {
                    var staged = StagedFile.Decode(cursor.Value);
                    newBytes += staged.NewBytes;
                    length = staged.Length;
                    settled.Add(key.ToArray());
                }
                else
                {
                    length = GetFile(file)?.Length ?? throw new NotFoundException($"A leaf of the tree refers to file {file}, which the repository does not have.");
                }
            }

            if (length != size)
            {
                throw new CorruptDataException($"A leaf of the tree claims {size} bytes for file {file}; the file has {length}.");
            }
        }

        return newBytes;
    }

    // A few steps forward before a seek: the keys looked for are usually next to each other.
    private static void MoveTo(RocksStore.Cursor cursor, ReadOnlySpan<byte> key)
    {
        for (int steps = 0; cursor.Valid && cursor.Key.SequenceCompareTo(key) < 0; steps++)
        {
            if (steps == 8)
            {
                cursor.Seek(key);
                return;
            }

            cursor.Next();
        }
    }

    private readonly record struct Subtree(long Entries, long Bytes, string FirstPath, string LastPath);

    private sealed record CheckedTree(long Entries, long Bytes, long NewBytes, List<byte[]> Settled);

    /// <summary>
    /// Requires a node to be split where <see cref="TreeBuilder"/> splits: no item before its last
    /// closes it, and its last item does unless the node ends its level. Every node of a tree
    /// passing this (with sorted entries, checked levels and a root of two or more items) is the
    /// node the builder makes of the same entries, so only staged nodes need checking whole: a
    /// stored node passed when its version was published. That costs what changed, not the
    /// dataset (a rebuild from all entries took about a second per million).
    /// </summary>
    private static void CheckShape(Hash id, TreeNode node, bool lastInLevel, bool wholeNode)
    {
        for (int k = wholeNode ? 0 : node.Count - 1; k < node.Count; k++)
        {
            bool closes = TreeBuilder.ClosesNode(TreeFormat.BoundaryHash(node.IsLeaf ? node.Entries[k].Path : node.Children[k].LastPath), node.Level, k + 1);
            if (k < node.Count - 1 ? closes : !closes && !lastInLevel)
            {
                throw new CorruptDataException($"Tree node {id} is not in canonical form: the builder would {(closes ? "close it after its item " + (k + 1) : "not close it at its last item")}.");
            }
        }
    }

    /// <summary>A stored node placed before others in its level: it and the last nodes below it must close.</summary>
    private async Task CheckRightEdgeClosesAsync(Hash id, TreeNode node, CancellationToken cancellationToken)
    {
        while (true)
        {
            CheckShape(id, node, lastInLevel: false, wholeNode: false);
            if (node.IsLeaf)
            {
                return;
            }

            id = node.Children[^1].NodeId;
            node = await TreeReader.LoadChildAsync(Nodes, node, node.Children[^1], cancellationToken).ConfigureAwait(false); // a level down each time
        }
    }

    /// <summary>A staged node, whose bytes must also be the one encoding of what they decode to (or the same node could have two ids).</summary>
    private async Task<TreeNode> LoadCanonicalAsync(Hash id, CancellationToken cancellationToken)
    {
        var node = await TreeReader.LoadAsync(Nodes, id, cancellationToken).ConfigureAwait(false);
        byte[]? stored = await Nodes.TryGetAsync(id, cancellationToken).ConfigureAwait(false);
        return node.Encode().AsSpan().SequenceEqual(stored) ? node
            : throw new CorruptDataException($"Tree node {id} is not in canonical form: its bytes are not the encoding of what they hold.");
    }
}
