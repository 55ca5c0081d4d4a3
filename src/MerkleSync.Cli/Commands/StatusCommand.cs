using System.CommandLine;
using MerkleSync.Cli.Output;
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
            if (!Directory.Exists(Path.Combine(dir, DatasetPath.StateFolderName)))
            {
                throw new InvalidInputException($"'{dir}' has never been pushed or pulled; nothing to compare with.");
            }

            var specialFiles = new List<string>();
            var scanned = await DirectoryScanner.ScanAsync(dir, ct, specialFiles); // meanwhile RocksDB's binding starts
            Warnings.SpecialFilesLeftOut(specialFiles);
            bool json = parse.GetValue(CliApp.Json);
            if (LastPush.ReadMatching(ClientStateStore.FolderOf(dir), LastPush.FingerprintOf(scanned)) is { } last)
            {
                // The files are as the last push left them, and that push is the last sync (a pull
                // drops the record): nothing changed, which needs no database (most of the time of
                // a status, the RocksDB binding's start-up).
                return await PrintAsync(last.RemoteUrl, last.Branch, last.Root, last.Root, new MemoryTreeNodeStore(), json, ct);
            }

            using var state = ClientStateStore.Open(dir);
            var (remote, branch) = state.LastSynced() ?? throw new InvalidInputException($"'{dir}' has never been pushed or pulled; nothing to compare with.");
            var (_, root) = state.GetSynced(remote, branch)!.Value;
            var local = new MemoryTreeNodeStore();
            var current = (await CachedSnapshotter.SnapshotAsync(scanned, state, local, ct, reuseTree: true)).Snapshot.Root; // nodes are read through the state
            return await PrintAsync(remote, branch, root, current, new LayeredNodeStore(local, state.Nodes), json, ct);
        }));
        return command;
    }

    private static async Task<int> PrintAsync(string remote, string branch, Hash synced, Hash current, ITreeNodeStore nodes, bool json, CancellationToken cancellationToken)
    {
        if (!json)
        {
            Console.Out.WriteLine($"Compared with {remote} branch '{branch}' at version {synced}:");
        }

        return await DiffCommand.PrintAsync(nodes, synced, current, [], json, statOnly: false, cancellationToken);
    }
}
