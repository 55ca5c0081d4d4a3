using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Demo;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;
using MerkleSync.Server.Hosting;

namespace MerkleSync.Cli.Commands;

/// <summary>
/// <c>merklesync demo</c>: starts a server on a loopback port, pushes a generated dataset, edits it,
/// pushes again and shows that only the changed chunks travel, diffs the versions, pulls the new
/// one into a fresh folder and verifies it.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Size of the generated dataset (e.g. 64MiB, 1GiB).", DefaultValueFactory = _ => "64MiB" };
        var seed = new Option<int>("--seed") { Description = "Seed of the generator; the same seed gives the same bytes.", DefaultValueFactory = _ => 7 };
        var keep = new Option<string?>("--dir") { Description = "Work in this folder and keep it (default: a temporary folder, removed after)." };
        var command = new Command("demo", "Push a generated dataset twice to a server on a loopback port and show that only changed chunks travel.\n\nExample:\n  merklesync demo --size 256MiB")
        {
            size,
            seed,
            keep,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
            RunAsync(ByteSize.Parse(parse.GetValue(size)!), parse.GetValue(seed), parse.GetValue(keep), parse.GetValue(CliApp.Json), ct)));
        return command;
    }

    // The v2 edits need shards of a few hundred KiB, and each shard is edited in memory.
    private const long MinSize = 1L << 20, MaxSize = 8L << 30;

    private static async Task<int> RunAsync(long size, int seed, string? directory, bool json, CancellationToken cancellationToken)
    {
        if (size is < MinSize or > MaxSize)
        {
            throw new InvalidInputException($"The demo's --size is between {Format.Bytes(MinSize)} and {Format.Bytes(MaxSize)}; {Format.Bytes(size)} is not.");
        }

        string root = directory ?? Path.Combine(Path.GetTempPath(), $"merklesync-demo-{Environment.ProcessId}");
        string data = Path.Combine(root, "data"), clone = Path.Combine(root, "clone");
        void Say(string line)
        {
            if (!json)
            {
                Console.Out.WriteLine(line);
            }
        }

        try
        {
            foreach (string folder in new[] { data, clone, Path.Combine(root, "server") })
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }

            var dataset = new DemoDataset(size, seed);
            Say($"Generating a {Format.Bytes(size)} dataset in {data} ...");
            dataset.WriteV1(data);

            await using var server = ServerApp.Build(new ServerSettings(Path.Combine(root, "server"), ["http://127.0.0.1:0"], null, Quiet: true));
            await server.StartAsync(cancellationToken);
            string url = ServerApp.BaseUrl(server) + "/demo";
            Say($"Started a server at {url}");
            await using var remote = new HttpRemote(new Uri(url), token: null);
            await remote.CreateAsync(cancellationToken);

            var first = await PushOperation.PushAsync(data, remote, new PushOptions(Message: "v1: generated"), cancellationToken);
            Say($"push v1: {first.ChunksNew} of {first.ChunksTotal} chunks new, {Format.Bytes(first.Wire.Sent)} sent ({first.Elapsed.TotalSeconds:F2} s)");

            long editedBytes = dataset.ApplyV2Edits(data);
            Say($"Edited the dataset: {Format.Bytes(editedBytes)} of new bytes in insertions, overwrites, new, deleted, appended and renamed files.");
            var second = await PushOperation.PushAsync(data, remote, new PushOptions(Message: "v2: edited"), cancellationToken);
            Say($"push v2: read {Format.Bytes(second.BytesScanned)} of {Format.Bytes(second.Bytes)} (unchanged files skipped), {second.ChunksNew} of {second.ChunksTotal} chunks new, "
                + $"{Format.Bytes(second.Wire.Sent)} sent ({100.0 * second.Wire.Sent / Math.Max(1, second.Bytes):F1}% of the dataset, {second.Elapsed.TotalSeconds:F2} s)");

            var changes = new List<TreeChange>();
            await foreach (var change in TreeDiff.DiffAsync(remote.Nodes, first.Root, second.Root, cancellationToken))
            {
                changes.Add(change);
            }

            changes = RenameDetection.Pair(changes);
            int added = changes.Count(c => c.Kind == ChangeKind.Added), removed = changes.Count(c => c.Kind == ChangeKind.Removed);
            int modified = changes.Count(c => c.Kind == ChangeKind.Modified), renamed = changes.Count(c => c.Kind == ChangeKind.Renamed);
            Say($"diff v1 -> v2: {added} added, {removed} removed, {modified} modified, {renamed} renamed");
            foreach (var change in changes.Take(6))
            {
                Say(change.Kind switch
                {
                    ChangeKind.Added => $"  + {Format.Path(change.Path)}",
                    ChangeKind.Removed => $"  - {Format.Path(change.Path)}",
                    ChangeKind.Renamed => $"  R {Format.Path(change.Old!.Value.Path)} -> {Format.Path(change.Path)}",
                    _ => $"  M {Format.Path(change.Path)}",
                });
            }

            var pulled = await PullOperation.PullAsync(remote, clone, new PullOptions(), cancellationToken);
            var check = await MerkleSync.Core.Verification.RemoteVerifier.VerifyAsync(remote, [await remote.ResolveAsync("main", cancellationToken)], MerkleSync.Core.Verification.PackSubset.None, null, cancellationToken);
            bool same = pulled.Root == second.Root && check.Ok;
            Say($"pull v2 into {clone}: {pulled.FilesWritten} files, {Format.Bytes(pulled.BytesWritten)} ({pulled.Elapsed.TotalSeconds:F2} s); root {(same ? "verified" : "MISMATCH")}: {pulled.Root}");

            if (json)
            {
                JsonOut.Write(new JsonObject
                {
                    ["server"] = url,
                    ["v1"] = new JsonObject { ["version"] = first.Root.ToString(), ["bytes"] = first.Bytes, ["chunks"] = first.ChunksTotal, ["chunks_new"] = first.ChunksNew, ["wire_bytes_sent"] = first.Wire.Sent },
                    ["v2"] = new JsonObject
                    {
                        ["version"] = second.Root.ToString(), ["bytes"] = second.Bytes, ["bytes_scanned"] = second.BytesScanned, ["chunks"] = second.ChunksTotal,
                        ["chunks_new"] = second.ChunksNew, ["new_chunk_bytes"] = second.NewChunkBytes, ["wire_bytes_sent"] = second.Wire.Sent,
                    },
                    ["edited_bytes"] = editedBytes,
                    ["added"] = added,
                    ["removed"] = removed,
                    ["modified"] = modified,
                    ["renamed"] = renamed,
                    ["pulled_root_verified"] = same,
                });
            }
            else
            {
                Say("");
                Say($"Only the changed chunks travelled: v2 sent {Format.Bytes(second.Wire.Sent)} for a {Format.Bytes(second.Bytes)} dataset with {Format.Bytes(editedBytes)} of edits.");
            }

            await server.StopAsync(cancellationToken);
            return same ? CliApp.Ok : CliApp.VerificationFailed;
        }
        finally
        {
            if (directory is null && Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
