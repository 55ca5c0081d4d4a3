using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Demo;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary>
/// <c>merklesync demo</c>: generates two versions of a dataset, snapshots both and shows that only
/// the chunks changed between them are new, and what the tree diff reports.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Size of the generated dataset (e.g. 64MiB, 1GiB).", DefaultValueFactory = _ => "64MiB" };
        var seed = new Option<int>("--seed") { Description = "Seed of the generator; the same seed gives the same bytes.", DefaultValueFactory = _ => 7 };
        var keep = new Option<string?>("--dir") { Description = "Write the dataset here and keep it (default: a temporary folder, removed after)." };
        var command = new Command("demo", "Generate a dataset, change it, and show that only the changed chunks are new.\n\nExample:\n  merklesync demo --size 256MiB")
        {
            size,
            seed,
            keep,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
            RunAsync(ByteSize.Parse(parse.GetValue(size)!), parse.GetValue(seed), parse.GetValue(keep), parse.GetValue(CliApp.Json), ct)));
        return command;
    }

    private static async Task<int> RunAsync(long size, int seed, string? directory, bool json, CancellationToken cancellationToken)
    {
        string root = directory ?? Path.Combine(Path.GetTempPath(), $"merklesync-demo-{Environment.ProcessId}");
        string v1 = Path.Combine(root, "v1"), v2 = Path.Combine(root, "v2");
        try
        {
            var dataset = new DemoDataset(size, seed);
            Log(json, $"Generating a {Format.Bytes(size)} dataset in {root} ...");
            RecreateDirectory(v1);
            dataset.WriteV1(v1);
            CopyDirectory(v1, v2);
            long editedBytes = dataset.ApplyV2Edits(v2);

            var store = new MemoryTreeNodeStore();
            var clock = Stopwatch.StartNew();
            var first = await Snapshotter.SnapshotAsync(v1, store, cancellationToken);
            var firstStats = SnapshotStats.Of(first, store, clock.Elapsed);
            clock.Restart();
            var second = await Snapshotter.SnapshotAsync(v2, store, cancellationToken);
            var secondStats = SnapshotStats.Of(second, store, clock.Elapsed);

            var known = first.Files.SelectMany(f => f.Content.Chunks).Select(c => c.Hash).ToHashSet();
            var fresh = new Dictionary<Hash, ulong>();
            foreach (var chunk in second.Files.SelectMany(f => f.Content.Chunks).Where(c => !known.Contains(c.Hash)))
            {
                fresh.TryAdd(chunk.Hash, chunk.Length);
            }

            long freshBytes = fresh.Values.Sum(l => (long)l);
            var changes = new List<TreeChange>();
            await foreach (var change in TreeDiff.DiffAsync(store, first.Root, second.Root, cancellationToken))
            {
                changes.Add(change);
            }

            if (json)
            {
                JsonOut.Write(new JsonObject
                {
                    ["v1"] = firstStats.ToJson(),
                    ["v2"] = secondStats.ToJson(),
                    ["edited_bytes"] = editedBytes,
                    ["new_chunks"] = fresh.Count,
                    ["new_chunk_bytes"] = freshBytes,
                    ["added"] = changes.Count(c => c.Kind == ChangeKind.Added),
                    ["removed"] = changes.Count(c => c.Kind == ChangeKind.Removed),
                    ["modified"] = changes.Count(c => c.Kind == ChangeKind.Modified),
                });
                return CliApp.Ok;
            }

            Console.Out.WriteLine();
            PrintVersion("v1", firstStats);
            PrintVersion("v2", secondStats);
            Console.Out.WriteLine();
            Console.Out.WriteLine($"diff v1 -> v2: {changes.Count(c => c.Kind == ChangeKind.Added)} added, {changes.Count(c => c.Kind == ChangeKind.Removed)} removed, {changes.Count(c => c.Kind == ChangeKind.Modified)} modified");
            foreach (var change in changes.Take(8))
            {
                Console.Out.WriteLine($"  {Symbol(change.Kind)} {change.Path}");
            }

            if (changes.Count > 8)
            {
                Console.Out.WriteLine($"  ... and {changes.Count - 8} more");
            }

            Console.Out.WriteLine();
            Console.Out.WriteLine($"v2 has {fresh.Count} chunks that v1 lacks: {Format.Bytes(freshBytes)} of {Format.Bytes(secondStats.Bytes)} "
                + $"({100.0 * freshBytes / Math.Max(1, secondStats.Bytes):F1}%), for {Format.Bytes(editedBytes)} of edited bytes.");
            Console.Out.WriteLine("Only those chunks need to be stored or sent for v2; everything else is shared with v1.");
            return CliApp.Ok;
        }
        finally
        {
            if (directory is null && Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static void PrintVersion(string name, SnapshotStats stats) =>
        Console.Out.WriteLine($"{name}  {stats.Root}  {stats.Files} files  {Format.Bytes(stats.Bytes)}  {stats.Chunks} chunks  ({stats.Elapsed.TotalSeconds:F2} s, {Format.Rate(stats.Bytes, stats.Elapsed)})");

    private static char Symbol(ChangeKind kind) => kind switch
    {
        ChangeKind.Added => '+',
        ChangeKind.Removed => '-',
        _ => 'M',
    };

    private static void Log(bool json, string line)
    {
        if (!json)
        {
            Console.Out.WriteLine(line);
        }
    }

    private static void RecreateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        Directory.CreateDirectory(path);
    }

    private static void CopyDirectory(string from, string to)
    {
        RecreateDirectory(to);
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
