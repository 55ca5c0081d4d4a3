using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary><c>merklesync snapshot DIR</c>: the version id a directory would get, with chunk statistics.</summary>
internal static class SnapshotCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "The dataset directory." };
        var command = new Command("snapshot", "Print the root hash (version id) of a directory and its chunk statistics.\n\nExample:\n  merklesync snapshot ./dataset --json")
        {
            directory,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => RunAsync(parse.GetValue(directory)!, parse.GetValue(CliApp.Json), ct)));
        return command;
    }

    private static async Task<int> RunAsync(string directory, bool json, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var store = new MemoryTreeNodeStore();
        var snapshot = await Snapshotter.SnapshotAsync(directory, store, cancellationToken);
        var stats = SnapshotStats.Of(snapshot, store, clock.Elapsed);
        if (json)
        {
            JsonOut.Write(stats.ToJson());
        }
        else
        {
            stats.Print();
        }

        return CliApp.Ok;
    }
}

/// <summary>What <c>snapshot</c> reports, shared with <c>demo</c>.</summary>
internal sealed record SnapshotStats(string Root, int Files, long Bytes, long Chunks, long UniqueChunks, long UniqueBytes, int TreeNodes, TimeSpan Elapsed)
{
    /// <summary>Bytes in files over bytes in distinct chunks: how much the directory deduplicates within itself.</summary>
    public double DedupRatio => UniqueBytes == 0 ? 1 : (double)Bytes / UniqueBytes;

    public static SnapshotStats Of(SnapshotResult snapshot, MemoryTreeNodeStore store, TimeSpan elapsed)
    {
        var (uniqueCount, uniqueBytes) = snapshot.UniqueChunks;
        return new SnapshotStats(snapshot.Root.ToString(), snapshot.Files.Count, snapshot.TotalBytes, snapshot.ChunkCount, uniqueCount, uniqueBytes, store.Count, elapsed);
    }

    public JsonObject ToJson() => new()
    {
        ["root"] = Root,
        ["files"] = Files,
        ["bytes"] = Bytes,
        ["chunks"] = Chunks,
        ["unique_chunks"] = UniqueChunks,
        ["unique_bytes"] = UniqueBytes,
        ["dedup_ratio"] = Math.Round(DedupRatio, 4),
        ["tree_nodes"] = TreeNodes,
        ["seconds"] = Math.Round(Elapsed.TotalSeconds, 3),
    };

    public void Print()
    {
        Console.Out.WriteLine($"root          {Root}");
        Console.Out.WriteLine($"files         {Files}");
        Console.Out.WriteLine($"bytes         {Bytes} ({Format.Bytes(Bytes)})");
        Console.Out.WriteLine($"chunks        {Chunks} ({UniqueChunks} unique, {Format.Bytes(UniqueBytes)})");
        Console.Out.WriteLine($"dedup ratio   {Format.Ratio(DedupRatio)}");
        Console.Out.WriteLine($"time          {Elapsed.TotalSeconds:F2} s ({Format.Rate(Bytes, Elapsed)})");
    }
}
