using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Verification;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>
/// Damaged packs: <c>verify --read-data</c> names them, <c>repair</c> keeps what is intact and
/// forgets the files that lost a chunk, and a <c>push --full</c> from a copy sends those again.
/// </summary>
public class RepairTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private sealed record Sample(string Source, string Repo, Hash Pack, string PackFile);

    /// <summary>The sample dataset pushed raw (so a flipped byte lands in known stored bytes) into one pack.</summary>
    private static async Task<Sample> PushSampleAsync(TempFolder temp)
    {
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using (var remote = await RemoteUrl.OpenAsync(repo, None))
        {
            await PushOperation.PushAsync(source, remote, new PushOptions(Compression: Compression.Off), None);
        }

        string packFile = Directory.EnumerateFiles(Path.Combine(repo, "packs"), "*.pack", SearchOption.AllDirectories).Single();
        return new Sample(source, repo, Hash.Parse(Path.GetFileNameWithoutExtension(packFile)), packFile);
    }

    private static void FlipByte(string file, long offset)
    {
        using var stream = File.Open(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        int value = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(value ^ 0x01));
    }

    private static async Task<VerifyReport> VerifyAsync(string repo)
    {
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        return await RepositoryVerifier.VerifyAsync(repository, null, PackSubset.All, null, None);
    }

    private static async Task<Core.Repository.PackRepairReport> RepairAsync(string repo, Hash pack)
    {
        using var repository = await Core.Repository.Repository.OpenAsync(repo, None);
        return await repository.RepairPackAsync(pack, None);
    }

    private static async Task<PushResult> PushAsync(Sample sample, bool full)
    {
        await using var remote = await RemoteUrl.OpenAsync(sample.Repo, None);
        return await PushOperation.PushAsync(sample.Source, remote, new PushOptions(Full: full), None);
    }

    /// <summary>Pushes from the sample's own folder (which has the data) with --full, then proves the repository whole by verify and a pull.</summary>
    private static async Task AssertHealedByFullPushAsync(Sample sample, TempFolder temp)
    {
        var plain = await PushAsync(sample, full: false);
        var full = await PushAsync(sample, full: true);
        var after = await VerifyAsync(sample.Repo);
        string target = temp.Sub("pulled");
        await using (var remote = await RemoteUrl.OpenAsync(sample.Repo, None))
        {
            await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        }

        Assert.Equal(0, plain.ChunksNew); // a plain push trusts the version the remote holds: the reason for --full
        Assert.False(full.Published);
        Assert.True(full.ChunksNew > 0);
        Assert.True(after.Ok, string.Join("; ", after.Problems.Select(p => $"{p.Subject}: {p.Message}")));
        Assert.Equal(DatasetFiles.Describe(sample.Source), DatasetFiles.Describe(target));
    }

    [Fact]
    public async Task A_flipped_byte_loses_one_chunk_the_rest_is_kept_and_a_full_push_makes_the_repository_whole()
    {
        using var temp = new TempFolder();
        var sample = await PushSampleAsync(temp);
        FlipByte(sample.PackFile, PackFormat.HeaderLength + 1000); // inside the first chunk
        int entries;
        using (var repository = await Core.Repository.Repository.OpenAsync(sample.Repo, None))
        {
            entries = repository.GetPack(sample.Pack).Entries.Length;
        }

        var found = await VerifyAsync(sample.Repo);
        var report = await RepairAsync(sample.Repo, sample.Pack);
        var afterRepair = await VerifyAsync(sample.Repo);

        Assert.Equal(sample.Pack, Assert.Single(found.Problems).DamagedPack);
        Assert.False(report.Intact);
        Assert.Equal(1, report.ChunksLost);
        Assert.Equal(entries - 1, report.ChunksKept);
        Assert.NotNull(report.NewPack);
        Assert.False(File.Exists(sample.PackFile));
        var lost = Assert.Single(report.FilesLost);

        // What is left is whole, but for the file forgotten: its record is missing, no chunk is damaged.
        var missing = Assert.Single(afterRepair.Problems);
        Assert.Equal("file " + lost, missing.Subject);
        Assert.Null(missing.DamagedPack);

        await AssertHealedByFullPushAsync(sample, temp);
    }

    [Fact]
    public async Task A_truncated_pack_keeps_the_chunks_before_the_cut()
    {
        using var temp = new TempFolder();
        var sample = await PushSampleAsync(temp);
        using (var stream = File.Open(sample.PackFile, FileMode.Open))
        {
            stream.SetLength(stream.Length / 2);
        }

        var found = await VerifyAsync(sample.Repo);
        var report = await RepairAsync(sample.Repo, sample.Pack);

        Assert.Contains(found.Problems, p => p.DamagedPack == sample.Pack);
        Assert.True(report.ChunksKept > 0);
        Assert.True(report.ChunksLost > 0);
        Assert.NotEmpty(report.FilesLost);
        await AssertHealedByFullPushAsync(sample, temp);
    }

    [Fact]
    public async Task A_missing_pack_file_loses_all_its_chunks_and_a_full_push_sends_them_again()
    {
        using var temp = new TempFolder();
        var sample = await PushSampleAsync(temp);
        File.Delete(sample.PackFile);

        var report = await RepairAsync(sample.Repo, sample.Pack);

        Assert.Null(report.NewPack);
        Assert.Equal(0, report.ChunksKept);
        Assert.Equal(6, report.FilesLost.Count); // every file with content
        await AssertHealedByFullPushAsync(sample, temp);
    }

    [Fact]
    public async Task Pack_ids_are_listed_in_pages_that_go_on_after_the_last_id_given()
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), repo = temp.Sub("repo");
        DatasetFiles.WriteSample(source);
        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(PackSize: 1 << 20), None);
        var repository = ((LocalRemote)remote).Repository;

        var pages = new List<List<Hash>>();
        for (Hash? after = null; pages.Count < 100; after = pages[^1][^1])
        {
            var page = repository.ListPackIds(after, 2);
            if (page.Count == 0)
            {
                break;
            }

            pages.Add(page);
        }

        var listed = pages.SelectMany(p => p).ToList();
        Assert.True(pages.Count >= 2);
        Assert.All(pages, p => Assert.InRange(p.Count, 1, 2));
        Assert.Equal(repository.ListPacks().Select(p => p.PackId).Order(), listed);
    }

    [Fact]
    public async Task Repairing_an_intact_pack_changes_nothing_and_an_unknown_pack_is_not_found()
    {
        using var temp = new TempFolder();
        var sample = await PushSampleAsync(temp);
        byte[] before = File.ReadAllBytes(sample.PackFile);

        var report = await RepairAsync(sample.Repo, sample.Pack);

        Assert.True(report.Intact);
        Assert.Empty(report.FilesLost);
        Assert.Equal(before, File.ReadAllBytes(sample.PackFile));
        Assert.True((await VerifyAsync(sample.Repo)).Ok);
        await Assert.ThrowsAsync<NotFoundException>(() => RepairAsync(sample.Repo, Hash.FromBytes(Enumerable.Repeat((byte)7, Hash.Size).ToArray())));
    }
}
