using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Round-trip properties over generated datasets and trees.</summary>
public class SyncProperties
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly string[] Names = ["a", "b", "data", "x.bin", "notes.txt", "é", "sub", "z z"];

    // A dataset: up to 12 files at paths built from a small name set, with random or repetitive content.
    private static Dictionary<string, byte[]> Dataset(int seed, int count)
    {
        var random = new Random(seed);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            int depth = random.Next(1, 4);
            string path = string.Join('/', Enumerable.Range(0, depth).Select(_ => Names[random.Next(Names.Length)])) + $"-{i}";
            int size = random.Next(0, 4) switch { 0 => 0, 1 => random.Next(1, 100), 2 => random.Next(1, 20_000), _ => random.Next(100_000, 400_000) };
            byte[] content = random.Next(2) == 0 ? SplitMix64.Bytes((ulong)random.Next(), size) : DatasetFiles.Text(random.Next(), size);
            files[path] = content;
        }

        return files;
    }

    [Property(MaxTest = 12)]
    public async Task Push_then_pull_gives_byte_identical_trees(PositiveInt seed, PositiveInt count, PositiveInt editSeed)
    {
        using var temp = new TempFolder();
        string source = temp.Sub("source"), target = temp.Sub("target"), repo = temp.Sub("repo");
        var files = Dataset(seed.Get, 1 + (count.Get % 12));
        foreach (var (path, content) in files)
        {
            DatasetFiles.Write(source, path, content);
        }

        Core.Repository.Repository.Init(repo).Dispose();
        await using var remote = await RemoteUrl.OpenAsync(repo, None);
        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));

        // Change the source (edit, delete, add) and pull the new version over the old copy.
        var random = new Random(editSeed.Get);
        foreach (var path in files.Keys.Where(_ => random.Next(3) == 0))
        {
            File.Delete(Path.Combine(source, path));
        }

        foreach (var (path, content) in Dataset(editSeed.Get, 3))
        {
            if (!Directory.Exists(Path.Combine(source, path)) && !files.Keys.Any(k => k.StartsWith(path + "/", StringComparison.Ordinal)) && !files.Keys.Any(k => path.StartsWith(k + "/", StringComparison.Ordinal)))
            {
                DatasetFiles.Write(source, path, content);
            }
        }

        await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        await PullOperation.PullAsync(remote, target, new PullOptions(Delete: true), None);
        Assert.Equal(DatasetFiles.Describe(source), DatasetFiles.Describe(target));
    }

    [Property(MaxTest = 100)]
    public async Task Diff_applied_to_A_gives_B(PositiveInt seedA, PositiveInt seedB, PositiveInt sizeA, PositiveInt overlap)
    {
        var a = Entries(seedA.Get, sizeA.Get % 3000);
        // B shares a prefix-sliced part of A and adds its own.
        var b = a.Where((_, i) => i % (2 + (overlap.Get % 5)) != 0).Concat(Entries(seedB.Get, seedB.Get % 500))
            .GroupBy(e => e.Path).Select(g => g.Last()).OrderBy(e => e.Path, DatasetPath.Comparer).ToList();
        var store = new MemoryTreeNodeStore();
        var rootA = await TreeBuilder.BuildAsync(a, store, None);
        var rootB = await TreeBuilder.BuildAsync(b, store, None);

        var applied = a.ToDictionary(e => e.Path, StringComparer.Ordinal);
        await foreach (var change in TreeDiff.DiffAsync(store, rootA, rootB, None))
        {
            switch (change.Kind)
            {
                case ChangeKind.Removed:
                    Assert.True(applied.Remove(change.Path));
                    break;
                case ChangeKind.Added:
                    Assert.True(applied.TryAdd(change.Path, change.New!.Value));
                    break;
                default:
                    Assert.Equal(applied[change.Path], change.Old!.Value);
                    applied[change.Path] = change.New!.Value;
                    break;
            }
        }

        Assert.Equal(b, applied.Values.OrderBy(e => e.Path, DatasetPath.Comparer));
    }

    private static List<TreeEntry> Entries(int seed, int count)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count)
            .Select(_ => new TreeEntry($"{Names[random.Next(Names.Length)]}/{random.Next(10_000)}", XetHashes.ChunkHash(BitConverter.GetBytes(random.Next(50))), random.Next(50), (EntryMode)random.Next(3)))
            .GroupBy(e => e.Path).Select(g => g.First()).OrderBy(e => e.Path, DatasetPath.Comparer)];
    }
}
