using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>File records and tree nodes stored ahead of the publish that names them.</summary>
public class StagingTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_file_record_is_stored_only_when_its_chunks_their_lengths_and_its_hash_all_check_out()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var chunks = await StorePackAsync(repository, 6);
        var good = File(chunks[..3]);
        var unknownChunk = File([.. chunks[..2], new ChunkRef(XetHashes.ChunkHash("not stored"u8), 10)]);
        var wrongLength = File([chunks[3], chunks[4] with { Length = chunks[4].Length + 1 }]);
        var wrongHash = new NewFile(XetHashes.ChunkHash("claimed"u8), chunks[3..]);

        await Assert.ThrowsAsync<NotFoundException>(() => repository.StoreFilesAsync([unknownChunk], None));
        await Assert.ThrowsAsync<CorruptDataException>(() => repository.StoreFilesAsync([wrongLength], None));
        await Assert.ThrowsAsync<CorruptDataException>(() => repository.StoreFilesAsync([wrongHash], None));
        // A bad file stops its part: the good one before it in the same call is not stored either.
        await Assert.ThrowsAsync<CorruptDataException>(() => repository.StoreFilesAsync([good, wrongHash], None));

        Assert.False(repository.HasFile(good.FileHash));
        Assert.False(repository.HasFile(unknownChunk.FileHash));
        Assert.All(chunks, c => Assert.False(repository.GetChunkLocation(c.Hash)!.Value.Referenced));

        await repository.StoreFilesAsync([good, good], None);
        Assert.Equal(chunks[..3].Sum(c => (long)c.Length), repository.GetFile(good.FileHash)!.Length);
        Assert.All(chunks, (c, i) => Assert.Equal(i < 3, repository.GetChunkLocation(c.Hash)!.Value.Referenced));

        // A part's chunks are looked up together, for the files not stored yet: one stored before
        // another in the same call takes no place among them.
        var next = File(chunks[4..]);
        await repository.StoreFilesAsync([good, next], None);
        Assert.Equal(chunks[4..].Sum(c => (long)c.Length), repository.GetFile(next.FileHash)!.Length);
        Assert.All(chunks, (c, i) => Assert.Equal(i != 3, repository.GetChunkLocation(c.Hash)!.Value.Referenced));

        var leaf = Node(TreeNode.Leaf([new TreeEntry("a", good.FileHash, 1, EntryMode.Regular)]));
        await Assert.ThrowsAsync<CorruptDataException>(() => repository.StoreNodesAsync([new(Hash.Zero, leaf.Value)], None));
        Assert.False(repository.HasNode(Hash.Zero));
    }

    [Fact]
    public async Task A_version_counts_the_new_bytes_of_the_staged_files_it_is_the_first_to_use()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var chunks = await StorePackAsync(repository, 9);
        var a = File(chunks[..6]);
        var b = File(chunks[3..]); // shares three chunks with a
        await repository.StoreFilesAsync([a, b], None);
        long Bytes(ChunkRef[] part) => part.Sum(c => (long)c.Length);

        var v1 = await PublishAsync(repository, "main", [Entry("a", a)]);
        var v2 = await PublishAsync(repository, "main", [Entry("a", a), Entry("b", b)]);
        var other = await PublishAsync(repository, "other", [Entry("b", b)]);

        Assert.Equal(Bytes(chunks[..6]), v1.NewBytes);
        Assert.Equal(Bytes(chunks[6..]), v2.NewBytes);
        Assert.Equal(0, other.NewBytes); // b was counted by the version that first used it
        Assert.Equal(Bytes(chunks[3..]), other.Bytes);

        // Published, nothing is staged any more: gc without grace keeps all of it.
        var report = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        Assert.Equal((0, 0, 0), (report.FilesRemoved, report.NodesRemoved, report.PacksDeleted));
    }

    [Fact]
    public async Task What_a_push_stored_but_never_published_is_kept_for_the_grace_period_then_collected()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var file = File(await StorePackAsync(repository, 4));
        await repository.StoreFilesAsync([file], None);
        var leaf = Node(TreeNode.Leaf([Entry("x", file)]));
        await repository.StoreNodesAsync([leaf], None);

        var young = await repository.CollectGarbageAsync(GcOptions.Default, None);
        Assert.Equal((0, 0, 0), (young.FilesRemoved, young.NodesRemoved, young.PacksDeleted));
        Assert.True(repository.HasFile(file.FileHash));

        var old = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        Assert.Equal((1, 1, 1), (old.FilesRemoved, old.NodesRemoved, old.PacksDeleted));
        Assert.False(repository.HasFile(file.FileHash));
        Assert.False(repository.HasNode(leaf.Key));
        await Assert.ThrowsAsync<NotFoundException>(() => repository.PublishAsync(new PublishRequest("main", null, leaf.Key, "t", ""), None));
    }

    [Fact]
    public async Task A_staged_leaf_whose_entry_disagrees_with_its_file_size_is_refused_at_publish()
    {
        using var temp = new TempFolder();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var file = File(await StorePackAsync(repository, 2));
        await repository.StoreFilesAsync([file], None);
        var lying = Node(TreeNode.Leaf([Entry("x", file) with { Size = 1 }]));
        await repository.StoreNodesAsync([lying], None);

        var error = await Assert.ThrowsAsync<CorruptDataException>(() => repository.PublishAsync(new PublishRequest("main", null, lying.Key, "t", ""), None));
        Assert.Contains("claims 1 bytes", error.Message, StringComparison.Ordinal);
        Assert.Null(repository.GetRef(RefName.Branch("main")));
    }

    [Fact]
    public async Task A_new_version_holding_a_client_state_folder_is_refused_and_an_old_one_pulls_without_it()
    {
        using var temp = new TempFolder();
        string repo = temp.Sub("repo"), target = temp.Sub("target");
        using var repository = Core.Repository.Repository.Init(repo);
        var file = File(await StorePackAsync(repository, 2));
        await repository.StoreFilesAsync([file], None);
        var leaf = Node(TreeNode.Leaf([Entry("a", file), Entry("sub/.merklesync/tokens", file)]));
        await repository.StoreNodesAsync([leaf], None);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() => repository.PublishAsync(new PublishRequest("main", null, leaf.Key, "t", ""), None));
        Assert.Contains("'sub/.merklesync/tokens' lies in a '.merklesync' folder", error.Message, StringComparison.Ordinal);
        Assert.Null(repository.GetRef(RefName.Branch("main")));

        // A node the repository holds from before (not staged by this push) is not checked again:
        // so a version pushed before snapshots left nested state folders out is published here.
        repository.Db.Delete(Core.Repository.Repository.Families.Staged, [(byte)'n', .. leaf.Key.ToArray()]);
        await repository.PublishAsync(new PublishRequest("main", null, leaf.Key, "t", ""), None);

        // A nested dataset's state in the target: the pull writes 'a' and leaves the state alone.
        string tokens = Path.Combine(target, "sub", ".merklesync", "tokens");
        Directory.CreateDirectory(Path.GetDirectoryName(tokens)!);
        await System.IO.File.WriteAllTextAsync(tokens, "mine");
        var pulled = await PullOperation.PullAsync(new LocalRemote(repository, repo), target, new PullOptions(), None);

        Assert.Equal((1, 1), (pulled.FilesWritten, pulled.StateEntriesSkipped));
        Assert.Equal("mine", await System.IO.File.ReadAllTextAsync(tokens));
        Assert.Equal(file.Chunks.Sum(c => (long)c.Length), new FileInfo(Path.Combine(target, "a")).Length);
    }

    private static NewFile File(ChunkRef[] chunks) => new(XetHashes.FileHash(chunks), chunks);

    private static TreeEntry Entry(string path, NewFile file) => new(path, file.FileHash, file.Chunks.Sum(c => (long)c.Length), EntryMode.Regular);

    private static KeyValuePair<Hash, byte[]> Node(TreeNode node)
    {
        byte[] bytes = node.Encode();
        return new(TreeFormat.NodeId(bytes), bytes);
    }

    private static async Task<Index.VersionRecord> PublishAsync(Core.Repository.Repository repository, string branch, TreeEntry[] entries)
    {
        var leaf = Node(TreeNode.Leaf(entries));
        await repository.StoreNodesAsync([leaf], None);
        var (_, record) = await repository.PublishAsync(new PublishRequest(branch, repository.GetRef(RefName.Branch(branch)), leaf.Key, "t", ""), None);
        return record;
    }

    /// <summary>A pack of <paramref name="count"/> random chunks, uploaded and indexed as a push would.</summary>
    private static async Task<ChunkRef[]> StorePackAsync(Core.Repository.Repository repository, int count)
    {
        using var stream = new MemoryStream();
        var writer = new PackWriter(stream);
        var chunks = new ChunkRef[count];
        for (int i = 0; i < count; i++)
        {
            byte[] chunk = SplitMix64.Bytes((ulong)(7000 + i), 10_000 + (i * 1000));
            chunks[i] = new ChunkRef(XetHashes.ChunkHash(chunk), (ulong)chunk.Length);
            await writer.AddAsync(chunks[i].Hash, chunk, None);
        }

        await writer.FinishAsync(None);
        byte[] pack = stream.ToArray();
        var upload = repository.CreateUpload(pack.Length);
        await repository.AppendUploadAsync(upload.Id, 0, new MemoryStream(pack), null, None);
        await repository.FinishUploadAsync(upload.Id, None);
        return chunks;
    }
}
