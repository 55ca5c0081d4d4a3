using System.CommandLine;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary><c>status DIR</c>: what changed since the directory was last pushed or pulled (offline).</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "The dataset directory.", DefaultValueFactory = _ => "." };
        var command = new Command("status", "Show what changed in DIR since it was last pushed or pulled. Works offline; unchanged files are not read.\n\nExample:\n  merklesync status ./data") { directory };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            string dir = parse.GetValue(directory)!;
            if (!Directory.Exists(Path.Combine(dir, DirectoryScanner.StateFolderName)))
            {
                throw new InvalidInputException($"'{dir}' has never been pushed or pulled; nothing to compare with.");
            }

            async Task<(List<ScannedFile> Files, Hash? Fingerprint)> ScanAsync()
            {
                var files = await DirectoryScanner.ScanAsync(dir, ct);
                return (files, LastPush.FingerprintOf(files));
            }

            var scan = ScanAsync(); // meanwhile the state opens
            using var state = ClientStateStore.Open(dir);
            var (remote, branch) = state.LastSynced() ?? throw new InvalidInputException($"'{dir}' has never been pushed or pulled; nothing to compare with.");
            var (_, root) = state.GetSynced(remote, branch)!.Value;
            var local = new MemoryTreeNodeStore();
            var (scanned, fingerprint) = await scan;

            // Files whose stats are those of the last push make the tree it pushed, whose nodes are here.
            var current = LastPush.ReadMatching(state.StateFolder, fingerprint) is { } last && state.HasNode(last.Root)
                ? last.Root
                : (await CachedSnapshotter.SnapshotAsync(scanned, state, local, ct, reuseTree: true)).Snapshot.Root; // nodes are read through the state
            if (!parse.GetValue(CliApp.Json))
            {
                Console.Out.WriteLine($"Compared with {remote} branch '{branch}' at version {root}:");
            }

            return await DiffCommand.PrintAsync(new LayeredNodeStore(local, state.Nodes), root, current, parse.GetValue(CliApp.Json), ct);
        }));
        return command;
    }
}
