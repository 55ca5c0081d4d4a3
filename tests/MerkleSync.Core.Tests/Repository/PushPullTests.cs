using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Verification;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Push and pull through a real file:// repository (RocksDB and packs in a temp folder).</summary>
public class PushPullTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_first_push_whose_state_cannot_be_created_fails_with_the_cause_and_publishes_nothing()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        // A file where the state's folder would go: the push hashes while the state opens, and that fails.
        Directory.CreateDirectory(Path.Combine(source, ".merklesync"));
        await File.WriteAllTextAsync(Path.Combine(source, ".merklesync", "state"), "not a folder");
        Core.Repository.Repository.Init(repo).Dispose();

        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        var error = await Assert.ThrowsAsync<CorruptDataException>(() => PushOperation.PushAsync(source, remote, new PushOptions(), None));

        Assert.Contains($"Cannot open the database at '{Path.Combine(Path.GetFullPath(source), ".merklesync", "state")}'", error.Message, StringComparison.Ordinal);
        Assert.Null(await remote.GetBranchAsync("main", None));
    }

    [Fact]
    public async Task A_first_pull_whose_state_cannot_be_created_fails_with_the_cause_and_places_nothing()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        // A file where the state's folder would go: the pull fetches while the state opens, and that fails.
        Directory.CreateDirectory(Path.Combine(target, ".merklesync"));
        await File.WriteAllTextAsync(Path.Combine(target, ".merklesync", "state"), "not a folder");

        var error = await Assert.ThrowsAsync<CorruptDataException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));

        Assert.Contains($"Cannot open the database at '{Path.Combine(Path.GetFullPath(target), ".merklesync", "state")}'", error.Message, StringComparison.Ordinal);
        Assert.Equal([Path.Combine(target, ".merklesync")], Directory.EnumerateFileSystemEntries(target));
        // Nothing half-written is left; the large file it verified is kept for the next pull.
        Assert.Equal([ContentHasher.Hash(File.ReadAllBytes(Path.Combine(source, "data", "big.bin"))).FileHash + ".verified"],
            Directory.EnumerateFiles(Path.Combine(target, ".merklesync", "tmp")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_sparse_pull_leaves_the_zero_chunks_of_a_large_file_as_holes_with_the_same_content()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo"), sparse = temp.Sub("sparse"), dense = temp.Sub("dense");
        // Data, 16 MiB of zeros, data, and zeros to the end (the file must still get its full length).
        byte[] image = new byte[20 << 20];
        DatasetFiles.Random(1, 1 << 20).CopyTo(image, 0);
        DatasetFiles.Random(2, 1 << 20).CopyTo(image, 17 << 20);
        DatasetFiles.Write(source, "disk.img", image);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        var pulled = await PullOperation.PullAsync(remote, sparse, new PullOptions(Sparse: true), None);
        await PullOperation.PullAsync(remote, dense, new PullOptions(), None);

        // The zero chunks' bytes are known: none is fetched (nor read back from the file).
        Assert.Equal(ContentHasher.Hash(image).Chunks.Where(c => !XetHashes.IsZeroChunk(c.Hash)).Sum(c => (long)c.Length), pulled.ChunkBytesFetched);

        Assert.Equal(image, File.ReadAllBytes(Path.Combine(sparse, "disk.img")));
        Assert.Equal(image, File.ReadAllBytes(Path.Combine(dense, "disk.img")));
        Assert.InRange(AllocatedBytes(Path.Combine(sparse, "disk.img")), 2 << 20, 4 << 20); // the data, and at most a chunk beside each part
        Assert.True(AllocatedBytes(Path.Combine(dense, "disk.img")) >= image.Length);
    }

    [Fact]
    public async Task A_sparse_pull_leaves_a_shorter_chunk_of_zeros_unwritten_too()
    {
        // Zeros are cut into maximum-size chunks, never fetched; the zeros left after the last of
        // them make a shorter chunk, fetched like data, which --sparse must not write either.
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo"), sparse = temp.Sub("sparse");
        byte[] data = DatasetFiles.Random(3, 1 << 20);
        byte[] image = Enumerable.Range(0, 16).Select(k => (byte[])[.. data, .. new byte[(8 << 20) + (k << 13)]]).First(candidate =>
            ContentHasher.Hash(candidate).Chunks is var chunks && XetHashes.IsZeroChunk(chunks[^2].Hash) && chunks[^1].Length >= 64 << 10);
        var layout = ContentHasher.Hash(image).Chunks;
        long withData = layout.Where(c => !XetHashes.IsZeroChunk(c.Hash)).Sum(c => (long)c.Length) - (long)layout[^1].Length;
        DatasetFiles.Write(source, "disk.img", image);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        await PullOperation.PullAsync(remote, sparse, new PullOptions(Sparse: true), None);

        Assert.Equal(image, File.ReadAllBytes(Path.Combine(sparse, "disk.img")));
        Assert.InRange(AllocatedBytes(Path.Combine(sparse, "disk.img")), withData, withData + 8192); // the chunks with data, to whole blocks
    }

    private static long AllocatedBytes(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true })!;
        string[] blocks = stat.StandardOutput.ReadToEnd().Split(' ');
        stat.WaitForExit();
        return long.Parse(blocks[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(blocks[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Push_then_pull_gives_an_identical_tree()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();

        PushResult pushed;
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            pushed = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "first"), None);
        }

        Assert.True(pushed.Published);
        Assert.Equal(7, pushed.Files);
        Assert.Equal(pushed.ChunksTotal, pushed.ChunksNew);
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            var pulled = await PullOperation.PullAsync(remote, target, new PullOptions(), None);
            Assert.Equal(pushed.Root, pulled.Root);
            Assert.Equal(7, pulled.FilesWritten);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task An_unchanged_directory_reuses_its_tree_and_still_publishes_it_to_another_repository()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), first = temp.Sub("first"), second = temp.Sub("second"), target = temp.Sub("target");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(first).Dispose();
        Core.Repository.Repository.Init(second).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(first, None))
        {
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
            Assert.False((await PushOperation.PushAsync(source, remote, new PushOptions(), None)).Published);
        }

        // The tree is taken from the state unbuilt; the new repository lacks it, so it must be built to publish.
        PushResult pushed;
        await using (var remote = await RemoteUrl.OpenAsync(second, None))
        {
            pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        }

        Assert.True(pushed.Published);
        await using (var remote = await RemoteUrl.OpenAsync(second, None))
        {
            await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task Chunks_stored_with_every_codec_pull_back_and_verify()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        Compression[] choices = [Compression.Zstd, Compression.Lz4, Compression.Off];
        foreach (var (compression, i) in choices.Select((c, i) => (c, i)))
        {
            DatasetFiles.Write(source, $"text/{i}.txt", DatasetFiles.Text(i, 200_000)); // compresses
            DatasetFiles.Write(source, $"random/{i}.bin", DatasetFiles.Random(i, 200_000)); // does not
            await using var remote = await RemoteUrl.OpenAsync(repo, None);
            await PushOperation.PushAsync(source, remote, new PushOptions(Message: compression.ToString(), Compression: compression), None);
        }

        using (var repository = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            var codecs = repository.ListPacks().SelectMany(p => p.Entries).GroupBy(e => e.Codec).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal([Codec.None, Codec.Zstd, Codec.Lz4], codecs.Keys.Order());
            var report = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None); // every pack read: CRCs, decoding, hashes
            Assert.Empty(report.Problems);
        }

        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_fifo_in_the_dataset_is_left_out_instead_of_blocking_the_push()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source;
        var remote = sample.Remote;
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(source, "data", "pipe")))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(7, pushed.Files); // the sample's files; a reader of the FIFO would have waited for a writer forever
        var specialFiles = new List<string>();
        DirectoryScanner.Scan(source, specialFiles: specialFiles);
        Assert.Equal(["data/pipe"], specialFiles);
    }
}

public class IncrementalSyncTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_second_push_sends_only_changed_chunks_and_a_pull_reuses_local_ones()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, clone = sample.Sub("clone");
        var remote = sample.Remote;
        var first = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "v1"), None);
        await PullOperation.PullAsync(remote, clone, new PullOptions(), None);

        // Insert 1000 bytes in the middle of the big file, delete one file, add one.
        string big = Path.Combine(source, "data/big.bin");
        byte[] content = File.ReadAllBytes(big);
        File.WriteAllBytes(big, [.. content.AsSpan(0, 350_000), .. DatasetFiles.Random(99, 1000), .. content.AsSpan(350_000)]);
        File.Delete(Path.Combine(source, "data/other.bin"));
        DatasetFiles.Write(source, "new/added.txt", DatasetFiles.Text(5, 10_000));

        var second = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "v2"), None);

        Assert.True(second.Published);
        Assert.InRange(second.ChunksNew, 2, 4); // the edited chunk(s) of big.bin and the new file
        Assert.InRange(second.NewChunkBytes, 1000, 3 * 131072 + 10_000);
        var history = await remote.HistoryAsync(second.VersionId, 10, None);
        Assert.Equal(["v2", "v1"], history.Select(v => v.Record.Message));
        Assert.Equal(first.VersionId, history[1].Id);
        Assert.Equal(second.NewChunkBytes, history[0].Record.NewBytes);

        var pulled = await PullOperation.PullAsync(remote, clone, new PullOptions(Delete: true), None);

        Assert.Equal(2, pulled.FilesWritten);
        Assert.Equal(1, pulled.FilesDeleted);
        Assert.True(pulled.BytesReused > 600_000, $"reused {pulled.BytesReused}");
        Assert.True(pulled.ChunkBytesFetched < 3 * 131072 + 10_000, $"fetched {pulled.ChunkBytesFetched}");
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(clone));
    }

    [Fact]
    public async Task Pushing_an_unchanged_directory_publishes_nothing_and_reads_nothing()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source;
        var remote = sample.Remote;
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddHours(-1)); // older than the racy window
        }

        var first = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var again = await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        Assert.False(again.Published);
        Assert.Equal(first.VersionId, again.VersionId);
        Assert.Equal(0, again.BytesScanned);
    }

    [Fact]
    public async Task A_remote_that_lost_the_synced_version_gets_every_file_again()
    {
        // The directory remembers what it synced with this URL, but the repository there was
        // recreated: negotiating only the changes since that version would publish a tree whose
        // files the remote never received.
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        }

        Directory.Delete(repo, recursive: true);
        Core.Repository.Repository.Init(repo).Dispose();
        DatasetFiles.Write(source, "more.txt", DatasetFiles.Text(3, 100));
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
            Assert.Equal(8, pushed.Files);
            Assert.Equal(pushed.ChunksTotal, pushed.ChunksNew);
            await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_publish_on_a_stale_head_is_a_conflict_and_publishes_nothing()
    {
        await using var sample = await SampleRepository.CreateAsync("a");
        string a = sample.Source;
        var remote = sample.Remote;
        var first = await PushOperation.PushAsync(a, remote, new PushOptions(), None);
        DatasetFiles.Write(a, "more.txt", DatasetFiles.Text(3, 100));
        var second = await PushOperation.PushAsync(a, remote, new PushOptions(), None);
        var local = (LocalRemote)remote;

        var stale = new Core.Repository.PublishRequest("main", first.VersionId, first.Root, "x", "stale");
        await Assert.ThrowsAsync<ConflictException>(() => local.Repository.PublishAsync(stale, None));

        Assert.Equal(second.VersionId, (await remote.GetBranchAsync("main", None))!.Id);
    }

    [Fact]
    public async Task A_push_from_a_directory_behind_the_branch_is_refused_and_rebase_replays_it_on_top()
    {
        await using var sample = await SampleRepository.CreateAsync("alice");
        string alice = sample.Source, bob = sample.Sub("bob"), check = sample.Sub("check");
        var remote = sample.Remote;
        await PushOperation.PushAsync(alice, remote, new PushOptions(Message: "v1"), None);
        await PullOperation.PullAsync(remote, bob, new PullOptions(), None);

        DatasetFiles.Write(alice, "text/table.csv", DatasetFiles.Text(50, 1000));      // Alice edits one file...
        await PushOperation.PushAsync(alice, remote, new PushOptions(Message: "alice"), None);
        DatasetFiles.Write(bob, "bob/new.bin", DatasetFiles.Random(51, 5000));         // ...Bob adds another
        File.Delete(Path.Combine(bob, "data/other.bin"));

        var refused = await Assert.ThrowsAsync<ConflictException>(() => PushOperation.PushAsync(bob, remote, new PushOptions(Message: "bob"), None));
        Assert.Contains("--rebase", refused.Message, StringComparison.Ordinal);

        var rebased = await PushOperation.PushAsync(bob, remote, new PushOptions(Message: "bob", Rebase: true), None);
        await PullOperation.PullAsync(remote, check, new PullOptions(), None);
        var files = DatasetFiles.Describe(check);
        Assert.Equal(DatasetFiles.Describe(alice)["text/table.csv"], files["text/table.csv"]);
        Assert.True(files.ContainsKey("bob/new.bin"));
        Assert.False(files.ContainsKey("data/other.bin"));
        var history = await remote.HistoryAsync(rebased.VersionId, 10, None);
        Assert.Equal(["bob", "alice", "v1"], history.Select(v => v.Record.Message));
    }

    [Fact]
    public async Task Rebase_refuses_when_both_sides_changed_the_same_path()
    {
        await using var sample = await SampleRepository.CreateAsync("alice");
        string alice = sample.Source, bob = sample.Sub("bob");
        var remote = sample.Remote;
        await PushOperation.PushAsync(alice, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, bob, new PullOptions(), None);
        DatasetFiles.Write(alice, "empty.txt", "alice"u8.ToArray());
        await PushOperation.PushAsync(alice, remote, new PushOptions(), None);
        DatasetFiles.Write(bob, "empty.txt", "bob"u8.ToArray());

        var conflict = await Assert.ThrowsAsync<ConflictException>(() => PushOperation.PushAsync(bob, remote, new PushOptions(Rebase: true), None));

        Assert.Contains("empty.txt", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_refuses_to_overwrite_or_delete_local_changes_unless_forced()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, clone = sample.Sub("clone");
        var remote = sample.Remote;
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, clone, new PullOptions(), None);

        DatasetFiles.Write(source, "text/table.csv", DatasetFiles.Text(60, 2000));
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        DatasetFiles.Write(clone, "text/table.csv", "my unpushed edit"u8.ToArray());
        DatasetFiles.Write(clone, "notes-only-here.txt", "mine"u8.ToArray());

        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(remote, clone, new PullOptions(Delete: true), None));
        Assert.Contains("text/table.csv", refused.Message, StringComparison.Ordinal);
        Assert.Contains("notes-only-here.txt", refused.Message, StringComparison.Ordinal);
        Assert.Equal("my unpushed edit", File.ReadAllText(Path.Combine(clone, "text/table.csv")));

        await PullOperation.PullAsync(remote, clone, new PullOptions(Delete: true, Force: true), None);
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(clone));
    }

    [Fact]
    public async Task Pull_into_a_directory_that_never_synced_replaces_no_file_of_other_content_unless_forced()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, target = sample.Sub("target");
        var remote = sample.Remote;
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        byte[] same = File.ReadAllBytes(Path.Combine(source, "text/table.csv"));
        DatasetFiles.Write(target, "text/table.csv", same); // a copy made some other way: nothing to lose
        DatasetFiles.Write(target, "text/nested/deep/notes.txt", "my own notes"u8.ToArray());
        DatasetFiles.Write(target, "only-here.txt", "mine"u8.ToArray());

        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));
        Assert.Contains("text/nested/deep/notes.txt", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("table.csv", refused.Message, StringComparison.Ordinal);
        Assert.Equal("my own notes", File.ReadAllText(Path.Combine(target, "text/nested/deep/notes.txt")));

        // --delete would also remove a file the version lacks.
        File.Delete(Path.Combine(target, "text/nested/deep/notes.txt"));
        var deleting = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(remote, target, new PullOptions(Delete: true), None));
        Assert.Contains("only-here.txt", deleting.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(target, "only-here.txt")));

        await PullOperation.PullAsync(remote, target, new PullOptions(), None); // nothing of other content in the way
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "only-here.txt")));
        File.Delete(Path.Combine(target, "only-here.txt"));
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_symbolic_link_or_file_in_the_way_of_a_folder_counts_as_a_local_change_and_a_link_is_never_followed()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string target = sample.Sub("target"), outside = sample.Sub("outside");
        await PushOperation.PushAsync(sample.Source, sample.Remote, new PushOptions(), None);
        DatasetFiles.Write(outside, "table.csv", "not the dataset's"u8.ToArray());
        Directory.CreateDirectory(target);
        File.CreateSymbolicLink(Path.Combine(target, "text"), outside); // the version has text/ as a folder
        DatasetFiles.Write(target, "data", "a file"u8.ToArray()); // and data/ too

        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(sample.Remote, target, new PullOptions(), None));
        await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Force: true), None); // no --delete needed

        Assert.Contains("2 file(s)", refused.Message, StringComparison.Ordinal);
        Assert.Equal("not the dataset's", File.ReadAllText(Path.Combine(outside, "table.csv")));
        Assert.Single(Directory.EnumerateFileSystemEntries(outside));
        Assert.Equal(DatasetFiles.Describe(sample.Source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_file_that_becomes_a_folder_and_back_is_pulled_without_delete_and_other_local_files_stay()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, target = sample.Sub("target");
        DatasetFiles.Write(source, "a", "a file"u8.ToArray());
        var asFile = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);
        File.Delete(Path.Combine(source, "a"));
        DatasetFiles.Write(source, "a/inside.txt", "in a folder"u8.ToArray());
        var asFolder = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);

        await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFile.VersionId.ToString()), None);
        DatasetFiles.Write(target, "mine.txt", "untracked"u8.ToArray());
        var toFolder = await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFolder.VersionId.ToString()), None);
        string inFolder = File.ReadAllText(Path.Combine(target, "a/inside.txt"));
        var toFile = await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFile.VersionId.ToString()), None);
        string asFileAgain = File.ReadAllText(Path.Combine(target, "a"));
        File.WriteAllText(Path.Combine(target, "a"), "changed here");
        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFolder.VersionId.ToString()), None));

        Assert.Equal("in a folder", inFolder);
        Assert.Equal(1, toFolder.FilesDeleted);
        Assert.Equal("a file", asFileAgain);
        Assert.Equal(1, toFile.FilesDeleted);
        Assert.Contains("e.g. a.", refused.Message, StringComparison.Ordinal);
        Assert.Equal("changed here", File.ReadAllText(Path.Combine(target, "a")));
        Assert.Equal("untracked", File.ReadAllText(Path.Combine(target, "mine.txt")));
    }

    [Fact]
    public async Task A_folder_that_becomes_a_file_goes_with_a_link_to_a_folder_it_holds_and_what_the_link_leads_to_stays()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, target = sample.Sub("target"), outside = sample.Sub("outside");
        DatasetFiles.Write(outside, "keep.txt", "not the dataset's"u8.ToArray());
        DatasetFiles.Write(source, "a/inside.txt", "in a folder"u8.ToArray());
        File.CreateSymbolicLink(Path.Combine(source, "a", "link"), outside);
        var asFolder = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);
        Directory.Delete(Path.Combine(source, "a"), recursive: true);
        DatasetFiles.Write(source, "a", "a file"u8.ToArray());
        var asFile = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);

        await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFolder.VersionId.ToString()), None);
        // The folder holds only what the last pull wrote (the link among it): it goes, without --delete.
        var toFile = await PullOperation.PullAsync(sample.Remote, target, new PullOptions(Version: asFile.VersionId.ToString()), None);

        Assert.Equal(2, toFile.FilesDeleted);
        Assert.Equal("a file", File.ReadAllText(Path.Combine(target, "a")));
        Assert.Equal("not the dataset's", File.ReadAllText(Path.Combine(outside, "keep.txt")));
    }

    [Fact]
    public async Task Files_a_partial_pull_wrote_are_not_local_changes_to_the_next_pull()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, target = sample.Sub("target");
        var remote = sample.Remote;
        var onlyText = new PullOptions(Paths: ["text"]);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, onlyText, None);

        DatasetFiles.Write(source, "text/table.csv", "second"u8.ToArray());
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, onlyText, None); // table.csv is as the last partial pull wrote it
        Assert.Equal("second", File.ReadAllText(Path.Combine(target, "text/table.csv")));

        DatasetFiles.Write(source, "text/table.csv", "third"u8.ToArray());
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        DatasetFiles.Write(target, "text/table.csv", "edited here"u8.ToArray());
        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));
        Assert.Contains("text/table.csv", refused.Message, StringComparison.Ordinal);

        DatasetFiles.Write(target, "text/table.csv", "second"u8.ToArray()); // as the partial pull left it
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task The_first_sync_names_origin_and_syncs_with_other_remotes_do_not_move_it()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string mirror = sample.Sub("mirror");
        Core.Repository.Repository.Init(mirror).Dispose();
        await using var mirrorRemote = await RemoteUrl.OpenAsync(mirror, None);

        await PushOperation.PushAsync(sample.Source, sample.Remote, new PushOptions(), None);
        await PushOperation.PushAsync(sample.Source, mirrorRemote, new PushOptions(), None);
        await PullOperation.PullAsync(mirrorRemote, sample.Source, new PullOptions(), None);

        using var state = ClientStateStore.OpenToRead(sample.Source);
        Assert.Equal(sample.Remote.Url, state.GetRemote("origin"));
    }

    [Fact]
    public async Task Switching_branches_by_pull_compares_local_files_with_the_branch_pulled_last()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, clone = sample.Sub("clone");
        var remote = sample.Remote;
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var onMain = DatasetFiles.Describe(source);
        DatasetFiles.Write(source, "text/table.csv", "only on side"u8.ToArray());
        DatasetFiles.Write(source, "side-only.txt", "side"u8.ToArray());
        await PushOperation.PushAsync(source, remote, new PushOptions(Branch: "side"), None);

        await PullOperation.PullAsync(remote, clone, new PullOptions(), None);
        await PullOperation.PullAsync(remote, clone, new PullOptions(Branch: "side", Delete: true), None);
        Assert.Equal("only on side", File.ReadAllText(Path.Combine(clone, "text/table.csv")));

        // Back to main: table.csv and side-only.txt are as side had them, so they are replaced and
        // deleted without --force; an edit made since would still stop the pull.
        DatasetFiles.Write(clone, "side-only.txt", "edited here"u8.ToArray());
        await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(remote, clone, new PullOptions(Delete: true), None));
        DatasetFiles.Write(clone, "side-only.txt", "side"u8.ToArray());
        await PullOperation.PullAsync(remote, clone, new PullOptions(Delete: true), None);
        Assert.Equal(onMain, DatasetFiles.Describe(clone));
    }

    [Fact]
    public async Task A_repository_inside_the_dataset_is_refused_unless_the_ignore_file_leaves_it_out()
    {
        using var temp = new TempFolder();
        string data = temp.Sub("data"), repo = Path.Combine(data, "backups", "repo");
        DatasetFiles.Write(data, "a.txt", "a"u8.ToArray());
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => PushOperation.PushAsync(data, remote, new PushOptions(), None));
        Assert.Contains("at 'backups/repo'", refused.Message, StringComparison.Ordinal);
        Assert.Null(await remote.GetBranchAsync("main", None));
        await Assert.ThrowsAsync<InvalidInputException>(() => PushOperation.PushAsync(repo, remote, new PushOptions(), None));

        DatasetFiles.Write(data, ".merklesyncignore", "backups/\n"u8.ToArray());
        var pushed = await PushOperation.PushAsync(data, remote, new PushOptions(), None);
        Assert.Equal(2, pushed.Files); // a.txt and the ignore file
    }

    [Fact]
    public async Task A_large_file_that_repeats_a_chunk_fetches_it_once_and_copies_the_repeats()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), clone = temp.Sub("clone"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        // A run of one byte value is cut at the largest chunk size: 8 MiB are 64 copies of one chunk,
        // between random bytes. (Not zeros: a pull writes their chunks without a source at all.)
        byte[] run = [.. Enumerable.Repeat((byte)0xFF, 8 << 20)];
        byte[] content = [.. DatasetFiles.Random(1, 300_000), .. run, .. DatasetFiles.Random(2, 300_000), .. run.AsSpan(0, 1 << 20)];
        DatasetFiles.Write(source, "disk.img", content);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        var pulled = await PullOperation.PullAsync(remote, clone, new PullOptions(), None);

        Assert.Equal(content, File.ReadAllBytes(Path.Combine(clone, "disk.img")));
        Assert.Equal(pushed.NewChunkBytes, pulled.ChunkBytesFetched); // each distinct chunk once
        Assert.Equal(content.Length - pushed.NewChunkBytes, pulled.BytesReused);
        Assert.True(pulled.BytesReused > 8 << 20, $"{pulled.BytesReused} bytes copied"); // the run's chunk was sent once
    }

    [Fact]
    public async Task Pull_by_path_writes_only_that_folder()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Source, target = sample.Sub("target");
        var remote = sample.Remote;
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        // A path the version lacks is refused before the folder is even created.
        var mistyped = await Assert.ThrowsAsync<NotFoundException>(() => PullOperation.PullAsync(remote, target, new PullOptions(Paths: ["text", "txt"]), None));
        Assert.Contains("'txt' is not in version", mistyped.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));

        var pulled = await PullOperation.PullAsync(remote, target, new PullOptions(Paths: ["text"]), None);

        Assert.Equal(2, pulled.FilesWritten);
        Assert.Equal(["text/nested/deep/notes.txt", "text/table.csv"], DatasetFiles.Describe(target).Keys);

        // With --delete, a path the version lacks is what to delete here, not a mistake.
        var nothingThere = await PullOperation.PullAsync(remote, target, new PullOptions(Paths: ["gone"], Delete: true), None);
        Assert.Equal((0, 0), (nothingThere.FilesWritten, nothingThere.FilesDeleted));

        // Pushing the partial copy must not delete what it left out: refused, and --rebase keeps it all.
        DatasetFiles.Write(target, "text/extra.txt", DatasetFiles.Text(9, 500));
        await Assert.ThrowsAsync<ConflictException>(() => PushOperation.PushAsync(target, remote, new PushOptions(), None));
        var merged = await PushOperation.PushAsync(target, remote, new PushOptions(Rebase: true), None);
        Assert.Equal(8, (await remote.HistoryAsync(merged.VersionId, 1, None))[0].Record.Files); // 7 sample files and the new one
    }

    [Fact]
    public async Task Small_files_are_pulled_in_batches_each_shared_chunk_once_and_local_chunks_reused()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), clone = temp.Sub("clone"), repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        // More files than one batch holds; every fourth file has the same content, some are empty.
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        long distinctBytes = 0;
        for (int i = 0; i < 4500; i++)
        {
            byte[] content = i % 4 == 0 ? DatasetFiles.Random(7, 3000) : i % 97 == 0 ? [] : DatasetFiles.Random(1000 + i, 100 + (i % 50 * 40));
            DatasetFiles.Write(source, $"d{i % 45:D2}/f{i:D4}.bin", content);
            if (distinct.Add(Convert.ToHexString(content)))
            {
                distinctBytes += content.Length;
            }
        }

        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        var pulled = await PullOperation.PullAsync(remote, clone, new PullOptions(), None);

        Assert.Equal(4500, pulled.FilesWritten);
        Assert.Equal(distinctBytes, pulled.ChunkBytesFetched);
        Assert.Equal(0, pulled.BytesReused); // the second batch copies the shared chunk from the first one
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(clone));

        // A copied folder is new to the clone, but every chunk of it is already there.
        long copied = 0;
        foreach (string file in Directory.GetFiles(Path.Combine(source, "d01")))
        {
            byte[] content = File.ReadAllBytes(file);
            DatasetFiles.Write(source, "copy/" + Path.GetFileName(file), content);
            copied += content.Length;
        }

        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        var again = await PullOperation.PullAsync(remote, clone, new PullOptions(), None);

        Assert.Equal(100, again.FilesWritten);
        Assert.Equal(0, again.ChunkBytesFetched);
        Assert.Equal(0, again.PackBytesRead);
        Assert.InRange(again.BytesReused, 3000, copied); // each distinct chunk read once
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(clone));
    }

    [Fact]
    public async Task A_folder_where_the_version_has_a_file_and_a_file_where_it_has_a_folder_are_local_changes_that_only_force_replaces()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string clone = sample.Sub("clone");
        await PushOperation.PushAsync(sample.Source, sample.Remote, new PushOptions(), None);
        DatasetFiles.Write(clone, "empty.txt/inside.txt", DatasetFiles.Text(3, 100)); // a folder where the version has a file
        DatasetFiles.Write(clone, "text", DatasetFiles.Text(4, 100)); // a file where the version has a folder

        // Both are this never-synced directory's own files: in the way, they count as changes here (no --delete needed).
        var refused = await Assert.ThrowsAsync<ConflictException>(() => PullOperation.PullAsync(sample.Remote, clone, new PullOptions(), None));
        Assert.Contains("2 file(s)", refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(clone, "empty.txt/inside.txt")) && File.Exists(Path.Combine(clone, "text")));

        var forced = await PullOperation.PullAsync(sample.Remote, clone, new PullOptions(Force: true), None);
        Assert.Equal(2, forced.FilesDeleted);
        Assert.Equal(DatasetFiles.Describe(sample.Source), DatasetFiles.Describe(clone));
    }
}
