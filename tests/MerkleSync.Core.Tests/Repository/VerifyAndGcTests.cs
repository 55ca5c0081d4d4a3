using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Verification;

namespace MerkleSync.Core.Tests.Repository;

public class VerifyAndGcTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static async Task<(string Repo, PushResult Pushed)> PushSampleAsync(TempFolder temp)
    {
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        return (repo, await PushOperation.PushAsync(source, remote, new PushOptions(), None));
    }

    [Fact]
    public async Task Verify_with_read_data_passes_on_an_intact_repository()
    {
        using var temp = new TempFolder();
        var (repo, _) = await PushSampleAsync(temp);
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);

        var progress = new OperationProgress();
        var report = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, progress, None);

        Assert.True(report.Ok, string.Join("; ", report.Problems.Select(p => p.Message)));
        Assert.Equal(1, report.Versions);
        Assert.Equal(6, report.Files); // 7 entries, the empty file needs no record
        Assert.True(report.PacksRead >= 1);
        // Progress knows what it will read before it reads, and ends there.
        Assert.Equal(Stage.Verifying, progress.Stage);
        long packBytes = Directory.EnumerateFiles(Path.Combine(repo, "packs"), "*.pack", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.Equal((packBytes, packBytes, packBytes), (progress.BytesToRead, progress.BytesRead, report.BytesRead));

        var quick = new OperationProgress();
        await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.None, quick, None);
        Assert.Equal((0, 0), (quick.BytesToRead, quick.BytesRead));
    }

    [Fact]
    public async Task A_missing_file_record_names_every_version_and_path_that_uses_it_though_shared_subtrees_are_read_once()
    {
        // v1: m/x.bin and z/y.txt among 600 small files (about ten leaves); v2 changes z/y.txt, so
        // x's leaf is shared; v3 adds a copy of x at c/x2.bin.
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        foreach (int i in Enumerable.Range(0, 300))
        {
            DatasetFiles.Write(source, $"f/{i:D3}.txt", "filler"u8.ToArray());
            DatasetFiles.Write(source, $"n/{i:D3}.txt", "filler"u8.ToArray());
        }

        Core.Repository.Repository.Init(repo).Dispose();
        var versions = new List<Hash>();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            DatasetFiles.Write(source, "m/x.bin", DatasetFiles.Random(1, 200_000));
            DatasetFiles.Write(source, "z/y.txt", DatasetFiles.Text(2, 5_000));
            versions.Add((await PushOperation.PushAsync(source, remote, new PushOptions(), None)).VersionId);
            DatasetFiles.Write(source, "z/y.txt", DatasetFiles.Text(3, 5_000));
            versions.Add((await PushOperation.PushAsync(source, remote, new PushOptions(), None)).VersionId);
            DatasetFiles.Write(source, "c/x2.bin", DatasetFiles.Random(1, 200_000));
            versions.Add((await PushOperation.PushAsync(source, remote, new PushOptions(), None)).VersionId);
        }

        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        var root = repository.GetVersion(versions[0])!.Root;
        var x = await Core.Tree.TreeReader.EnumerateAsync(repository.Nodes, root, None).SingleAsync(e => e.Path == "m/x.bin");
        repository.Db.Delete(Core.Repository.Repository.Families.Files, x.FileHash.ToArray());

        var report = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.None, null, None);

        var missing = Assert.Single(report.Problems);
        Assert.Equal(("file " + x.FileHash, "file record is missing"), (missing.Subject, missing.Message));
        Assert.Equal(["c/x2.bin", "m/x.bin"], missing.Paths);
        Assert.Equal(versions.ToHashSet(), missing.Versions.ToHashSet());
        Assert.Equal((3, 4), (report.Versions, report.Files)); // x, two y, the filler
        int leaves = (await Core.Tree.TreeReader.LoadAsync(repository.Nodes, root, None)).Children.Count;
        Assert.True(leaves > 3 && report.Nodes < 3 * (leaves + 1), $"{report.Nodes} nodes for three versions of {leaves} leaves each"); // the versions share leaves
    }

    [Fact]
    public async Task A_flipped_byte_in_a_pack_is_found_and_named_and_never_reaches_a_pulled_file()
    {
        using var temp = new TempFolder();
        var (repo, _) = await PushSampleAsync(temp);
        string packFile = Directory.EnumerateFiles(Path.Combine(repo, "packs"), "*.pack", SearchOption.AllDirectories).Single();
        byte[] bytes = File.ReadAllBytes(packFile);
        bytes[PackFormat.HeaderLength + 1000] ^= 0x01; // inside the first chunk
        File.WriteAllBytes(packFile, bytes);

        using (var repository = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            var quick = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.None, null, None);
            var full = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);

            Assert.True(quick.Ok);
            Assert.False(full.Ok);
            var chunkProblem = Assert.Single(full.Problems, p => p.Subject.StartsWith("chunk", StringComparison.Ordinal));
            Assert.NotEmpty(chunkProblem.Paths);
            Assert.NotEmpty(chunkProblem.Versions);
        }

        string target = temp.Sub("target");
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        var pulling = await Assert.ThrowsAsync<CorruptDataException>(() => PullOperation.PullAsync(remote, target, new PullOptions(), None));
        Assert.Contains($"read from pack {Path.GetFileNameWithoutExtension(packFile)}", pulling.Message, StringComparison.Ordinal); // and what finds and salvages such damage
        Assert.False(Directory.Exists(target)); // a first pull that failed leaves no folder, nor any file
    }

    [Fact]
    public async Task Subsets_1_to_t_of_t_read_every_pack_once_and_only_the_damaged_packs_group_finds_the_damage()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            Assert.True((await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None)).Packs >= 4);
        }

        string packFile = Directory.EnumerateFiles(Path.Combine(repo, "packs"), "*.pack", SearchOption.AllDirectories).First();
        byte[] bytes = File.ReadAllBytes(packFile);
        bytes[PackFormat.HeaderLength + 100] ^= 0x01; // inside the pack's first chunk
        File.WriteAllBytes(packFile, bytes);

        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        var all = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
        var none = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.None, null, None);
        var groups = new List<VerifyReport>();
        for (int n = 1; n <= 3; n++)
        {
            groups.Add(await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.Parse($"{n}/3"), null, None));
        }

        Assert.True(none.Ok);
        Assert.Equal(0, none.PacksRead);
        Assert.Equal(all.PacksRead, groups.Sum(g => g.PacksRead));
        Assert.Equal(all.BytesRead, groups.Sum(g => g.BytesRead));
        Assert.Single(groups, g => !g.Ok);
        Assert.Equal(all.Problems.Select(p => p.Subject), groups.SelectMany(g => g.Problems).Select(p => p.Subject));
        Assert.Contains(all.Problems, p => p.Subject.StartsWith("chunk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gc_removes_what_no_ref_reaches_and_keeps_what_one_does()
    {
        using var temp = new TempFolder();
        string a = temp.Sub("a"), b = temp.Sub("b"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(a, seed: 1);
        DatasetFiles.WriteSample(b, seed: 2);
        Core.Repository.Repository.Init(repo).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PushOperation.PushAsync(a, remote, new PushOptions(Branch: "keep"), None);
            await PushOperation.PushAsync(b, remote, new PushOptions(Branch: "drop"), None);
        }

        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        repository.DeleteRef(RefName.Branch("drop"));
        long before = repository.ListPacks().Sum(p => p.BlobLength);

        var report = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);

        Assert.Equal(1, report.VersionsRemoved);
        Assert.True(report.PacksDeleted + report.PacksRewritten >= 1);
        Assert.True(repository.ListPacks().Sum(p => p.BlobLength) < before * 0.6);
        var verify = await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
        Assert.True(verify.Ok, string.Join("; ", verify.Problems.Select(p => p.Message)));
        Assert.Equal(1, verify.Versions);
    }

    [Fact]
    public async Task A_gc_dry_run_changes_nothing_and_reports_what_the_gc_then_does()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.Write(source, "small.txt", DatasetFiles.Text(1, 20_000));
        DatasetFiles.Write(source, "large.bin", DatasetFiles.Random(2, 900_000));
        Core.Repository.Repository.Init(repo).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PushOperation.PushAsync(source, remote, new PushOptions(Branch: "old"), None);
            File.Delete(Path.Combine(source, "large.bin"));
            DatasetFiles.Write(source, "other.bin", DatasetFiles.Random(3, 300_000));
            await PushOperation.PushAsync(source, remote, new PushOptions(Branch: "main"), None);
        }

        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        repository.DeleteRef(RefName.Branch("old"));
        var packsBefore = repository.ListPacks().Select(p => (p.PackId, p.BlobLength)).ToList();
        int versionsBefore = repository.ListVersions().Count();

        var dry = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero, DryRun: true), None);

        Assert.True(dry.DryRun);
        Assert.Equal(packsBefore, repository.ListPacks().Select(p => (p.PackId, p.BlobLength)));
        Assert.Equal(versionsBefore, repository.ListVersions().Count());
        var real = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);
        Assert.Equal(
            (real.VersionsRemoved, real.FilesRemoved, real.NodesRemoved, real.PacksDeleted, real.PacksRewritten, real.BytesFreed),
            (dry.VersionsRemoved, dry.FilesRemoved, dry.NodesRemoved, dry.PacksDeleted, dry.PacksRewritten, dry.BytesFreed));
        Assert.True(real.VersionsRemoved == 1 && real.PacksDeleted + real.PacksRewritten >= 1, $"{real}");
        Assert.InRange(dry.BytesKept, real.BytesKept * 0.9, real.BytesKept); // a rewritten pack's new size, estimated by its live chunks
    }

    [Fact]
    public async Task Gc_rewrites_a_mostly_dead_pack_and_the_survivors_still_pull()
    {
        using var temp = new TempFolder();
        await GcRewritesAMostlyDeadPackAsync(temp, repo =>
        {
            Core.Repository.Repository.Init(repo).Dispose();
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Two pushes, the second without the large file; only the second version stays reachable, so
    /// gc rewrites the pack (its live chunk after the dead ones) and the survivor still pulls.
    /// </summary>
    internal static async Task GcRewritesAMostlyDeadPackAsync(TempFolder temp, Func<string, Task> initRepository)
    {
        string source = temp.Sub("source"), repo = temp.Sub("repo"), target = temp.Sub("target");
        DatasetFiles.Write(source, "small.txt", DatasetFiles.Text(1, 20_000));
        DatasetFiles.Write(source, "large.bin", DatasetFiles.Random(2, 900_000));
        await initRepository(repo);
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
            File.Delete(Path.Combine(source, "large.bin"));
            await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        }

        using (var repository = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            // Forget history: only the second version stays reachable.
            var head = repository.GetRef(RefName.Branch("main"))!.Value;
            var record = repository.GetVersion(head)!;
            var (single, _) = await repository.PublishAsync(new PublishRequest("solo", null, record.Root, "t", "only v2"), None);
            repository.DeleteRef(RefName.Branch("main"));

            var report = await repository.CollectGarbageAsync(new GcOptions(TimeSpan.Zero), None);

            Assert.Equal(1, report.PacksRewritten);
            Assert.True(report.BytesFreed > 800_000);
        }

        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PullOperation.PullAsync(remote, target, new PullOptions(Branch: "solo"), None);
        }

        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task Gc_leaves_young_packs_alone()
    {
        using var temp = new TempFolder();
        var (repo, _) = await PushSampleAsync(temp);
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        repository.DeleteRef(RefName.Branch("main"));

        var report = await repository.CollectGarbageAsync(GcOptions.Default, None);

        Assert.Equal(0, report.PacksDeleted);
        Assert.NotEmpty(repository.ListPacks());
    }

    [Fact]
    public async Task A_pack_stored_but_never_indexed_is_indexed_again_on_open()
    {
        using var temp = new TempFolder();
        var (repo, pushed) = await PushSampleAsync(temp);
        using (var repository = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            // Simulate a crash between storing a pack and indexing it: remove its index entries.
            var pack = repository.ListPacks().Single();
            repository.Db.WriteDurable(batch =>
            {
                batch.Delete("packs", pack.PackId.ToArray());
                foreach (var e in pack.Entries)
                {
                    batch.Delete("chunks", e.ChunkHash.ToArray());
                }
            });
        }

        LeaveAsAfterACrash(repo);
        using var reopened = await Core.Repository.Repository.OpenAsync(repo, None);
        Assert.Single(reopened.ListPacks());
        var verify = await RepositoryVerifier.VerifyAsync(reopened, pushed.VersionId, PackSubset.All, null, None);
        Assert.True(verify.Ok);
    }

    [Fact]
    public async Task After_a_clean_close_the_store_is_not_listed_on_open_and_after_a_crash_it_is()
    {
        using var temp = new TempFolder();
        var (repo, _) = await PushSampleAsync(temp);
        // A blob under a pack's key that no index entry names, and that is not a pack: what a
        // listing finds it drops.
        string stray = Path.Combine(repo, PackFormat.BlobKey(Core.Hashing.Hash.FromBytes(new byte[32])));
        Directory.CreateDirectory(Path.GetDirectoryName(stray)!);
        await File.WriteAllBytesAsync(stray, [1, 2, 3]);

        using (await Core.Repository.Repository.OpenAsync(repo, None))
        {
            Assert.True(File.Exists(stray)); // the push closed it clean: the store was not listed
        }

        LeaveAsAfterACrash(repo);
        using (await Core.Repository.Repository.OpenAsync(repo, None))
        {
            Assert.False(File.Exists(stray));
        }
    }

    /// <summary>The on-disk state a killed process leaves: the repository was not closed clean.</summary>
    private static void LeaveAsAfterACrash(string repo)
    {
        using var db = RocksStore.Open(Path.Combine(repo, Core.Repository.Repository.DatabaseFolder), Core.Repository.Repository.Families.All, createIfMissing: false);
        db.Delete(Core.Repository.Repository.Families.Meta, Core.Repository.Repository.ClosedCleanKey);
    }
}
