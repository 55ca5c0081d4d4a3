using System.Diagnostics;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Bench;

/// <summary>
/// The scale case of docs/benchmarks.md: two versions of an N-entry tree (tree only, no file data)
/// that differ in K files, stored in a real RocksDB node store; times the diff with the store
/// reopened (nothing cached in memory). Prints JSON for bench scripts.
/// </summary>
internal static class TreeDiffScale
{
    public static async Task PrintAsync(int entries, int changed)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"merklesync-treediff-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var random = new Random(7);
            var paths = Enumerable.Range(0, entries).Select(i => $"d{i / 1_000_000:D2}/s{i / 10_000 % 100:D2}/g{i / 100 % 100:D2}/f{i:D7}.bin").ToArray();
            Array.Sort(paths, DatasetPath.Comparer);
            var first = paths.Select((p, i) => new TreeEntry(p, FileHash(i, 0), 1000 + i, EntryMode.Regular)).ToArray();
            var second = (TreeEntry[])first.Clone();
            var modified = new HashSet<int>();
            while (modified.Count < changed)
            {
                modified.Add(random.Next(entries));
            }

            foreach (int i in modified)
            {
                second[i] = second[i] with { FileHash = FileHash(i, 1), Size = second[i].Size + 1 };
            }

            Hash a, b;
            var build = Stopwatch.StartNew();
            using (var state = ClientStateStore.Open(folder))
            {
                a = await TreeBuilder.BuildAsync(first, state.Nodes, CancellationToken.None);
                b = await TreeBuilder.BuildAsync(second, state.Nodes, CancellationToken.None);
            }

            build.Stop();
            using var reopened = ClientStateStore.Open(folder);
            var diff = Stopwatch.StartNew();
            int found = 0;
            await foreach (var _ in TreeDiff.DiffAsync(reopened.Nodes, a, b, CancellationToken.None))
            {
                found++;
            }

            diff.Stop();
            if (found != changed)
            {
                throw new InvalidOperationException($"The diff found {found} changes, not {changed}.");
            }

            Console.WriteLine($"{{\"entries\": {entries}, \"changed\": {changed}, \"build_both_seconds\": {build.Elapsed.TotalSeconds:F3}, \"diff_seconds\": {diff.Elapsed.TotalSeconds:F4}, \"changes_found\": {found}}}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Hash FileHash(int index, int version)
    {
        Span<byte> seed = stackalloc byte[8];
        BitConverter.TryWriteBytes(seed, (long)index << 1 | (long)version);
        return XetHashes.ChunkHash(seed);
    }
}
