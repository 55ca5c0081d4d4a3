using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.ClientState;

/// <summary>
/// The record of the last push (<c>.merklesync/last-push</c>), which answers an unchanged push
/// without opening the state, and the token file beside it, against a real file:// repository.
/// </summary>
public class LastPushTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Files last modified an hour ago: outside the racy window, so their stats are trusted.</summary>
    private static void WriteOldFiles(string root, int seed, string folder = "d")
    {
        for (int i = 0; i < 20; i++)
        {
            string path = DatasetFiles.Write(root, $"{folder}{i % 3}/f{i:D2}.bin", DatasetFiles.Random(seed + i, 3000 + (i * 100)));
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
        }
    }

    private static string StateDatabase(string root) => Path.Combine(ClientStateStore.FolderOf(root), "state");

    [Fact]
    public async Task An_unchanged_directory_is_answered_from_the_last_push_without_opening_the_state()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        WriteOldFiles(source, seed: 1);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        var first = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        Assert.NotNull(LastPush.Read(ClientStateStore.FolderOf(source)));

        // Without the state database, only the last-push record can say the push has nothing to do.
        Directory.Delete(StateDatabase(source), recursive: true);
        var again = await PushOperation.PushAsync(source, remote, new PushOptions(), None);

        Assert.False(again.Published);
        Assert.Equal((first.VersionId, first.Root, first.Files, first.Bytes, first.ChunksTotal), (again.VersionId, again.Root, again.Files, again.Bytes, again.ChunksTotal));
        Assert.Equal(0, again.BytesScanned);
        Assert.False(Directory.Exists(StateDatabase(source)));
    }

    [Fact]
    public async Task A_file_rewritten_with_its_old_size_and_mtime_is_still_pushed()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Sub("files");
        WriteOldFiles(source, seed: 2);
        var first = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);

        // Same size, same mtime, new bytes: only the ctime (and the stat cache's trust in it) tells.
        string changed = Path.Combine(source, "d1", "f04.bin");
        var mtime = File.GetLastWriteTimeUtc(changed);
        File.WriteAllBytes(changed, DatasetFiles.Random(99, (int)new FileInfo(changed).Length));
        File.SetLastWriteTimeUtc(changed, mtime);
        var second = await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);

        Assert.True(second.Published);
        Assert.NotEqual(first.Root, second.Root);
        Assert.Equal(new FileInfo(changed).Length, second.BytesScanned);
    }

    [Fact]
    public async Task A_branch_that_moved_since_the_last_push_is_not_answered_from_it()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string a = sample.Sub("a"), b = sample.Sub("b");
        WriteOldFiles(a, seed: 3);
        WriteOldFiles(b, seed: 4, folder: "e"); // other paths, so b's push rebases cleanly
        await PushOperation.PushAsync(a, sample.Remote, new PushOptions(), None);
        await PushOperation.PushAsync(b, sample.Remote, new PushOptions(Rebase: true), None);

        // a is unchanged since its push, but the branch is no longer at the version a made.
        await Assert.ThrowsAsync<ConflictException>(() => PushOperation.PushAsync(a, sample.Remote, new PushOptions(), None));
    }

    [Fact]
    public async Task Files_modified_within_the_racy_window_leave_no_last_push()
    {
        await using var sample = await SampleRepository.CreateAsync();
        string source = sample.Sub("fresh");
        DatasetFiles.Write(source, "new.txt", DatasetFiles.Text(5, 2000)); // modified now: a later write in the same tick could go unseen

        await PushOperation.PushAsync(source, sample.Remote, new PushOptions(), None);

        Assert.Null(LastPush.Read(ClientStateStore.FolderOf(source)));
    }

    [Fact]
    public void A_damaged_last_push_record_is_ignored()
    {
        using var temp = new TempFolder();
        var record = new LastPush(LastPush.FingerprintOf([])!.Value, "http://127.0.0.1:1/ds", "main", XetHashes.ChunkHash([1]), XetHashes.ChunkHash([2]), 3, 4, 5);
        record.Write(temp.Path);
        Assert.Equal(record, LastPush.Read(temp.Path));

        string file = Path.Combine(temp.Path, LastPush.FileName);
        byte[] bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..^1]);
        Assert.Null(LastPush.Read(temp.Path));
        File.WriteAllBytes(file, [.. bytes, 0]);
        Assert.Null(LastPush.Read(temp.Path));
    }

    [Fact]
    public void The_fingerprint_changes_with_any_part_of_any_stat()
    {
        var stat = new FileStat(10, 20, 30, 40);
        ScannedFile Scanned(string path = "a", EntryMode mode = EntryMode.Regular, FileStat? s = null) => new(path, "/x/" + path, mode, 10, s ?? stat);
        var base_ = LastPush.FingerprintOf([Scanned()]);
        var variants = new[]
        {
            LastPush.FingerprintOf([Scanned("b")]),
            LastPush.FingerprintOf([Scanned(mode: EntryMode.Executable)]),
            LastPush.FingerprintOf([Scanned(s: stat with { Size = 11 })]),
            LastPush.FingerprintOf([Scanned(s: stat with { ModifiedNs = 21 })]),
            LastPush.FingerprintOf([Scanned(s: stat with { ChangedNs = 31 })]),
            LastPush.FingerprintOf([Scanned(s: stat with { Inode = 41 })]),
            LastPush.FingerprintOf([Scanned(), Scanned("b")]),
        };

        Assert.Equal(base_, LastPush.FingerprintOf([Scanned()]));
        Assert.All(variants, v => Assert.NotEqual(base_, v));
        Assert.Equal(variants.Length, variants.Distinct().Count());
        Assert.Null(LastPush.FingerprintOf([new ScannedFile("a", "/x/a", EntryMode.Regular, 10)])); // no stat from the scan: no fingerprint
    }

    private static readonly string[] Families = ["default", "stat", "remotes", "synced", "nodes", "uploads", "tokens"];

    [Fact]
    public void Tokens_of_an_older_state_move_from_the_database_to_a_file_only_the_owner_can_read()
    {
        using var temp = new TempFolder();
        const string url = "http://127.0.0.1:1/ds", token = "a-token-of-sixteen-or-more";
        Directory.CreateDirectory(ClientStateStore.FolderOf(temp.Path));
        using (var old = RocksStore.Open(StateDatabase(temp.Path), Families, createIfMissing: true))
        {
            old.Put("tokens", System.Text.Encoding.UTF8.GetBytes(url), System.Text.Encoding.UTF8.GetBytes(token));
        }

        Assert.Equal(token, ClientStateStore.StoredToken(temp.Path, url)); // read from the database while there is no file

        using (var state = ClientStateStore.Open(temp.Path))
        {
            Assert.Equal(token, state.GetToken(url));
        }

        string file = Path.Combine(ClientStateStore.FolderOf(temp.Path), "tokens");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(token, ClientStateStore.StoredToken(temp.Path, url));
        using (var db = RocksStore.Open(StateDatabase(temp.Path), Families, createIfMissing: false))
        {
            Assert.Empty(db.Scan("tokens"));
        }

        using (var state = ClientStateStore.Open(temp.Path))
        {
            state.SetToken(url, null);
        }

        Assert.Null(ClientStateStore.StoredToken(temp.Path, url));
    }
}
