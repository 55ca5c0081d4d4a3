using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary><c>diff REMOTE A B</c> (two versions) or <c>diff DIR REMOTE</c> (a directory against a version).</summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var first = new Argument<string>("REMOTE|DIR") { Description = "A repository (then give two versions) or a dataset directory (then give a repository)." };
        var second = new Argument<string>("A|REMOTE") { Description = "The old version, or the repository." };
        var third = new Argument<string?>("B") { Description = "The new version.", Arity = ArgumentArity.ZeroOrOne };
        var branch = CommonOptions.Branch();
        var version = new Option<string?>("--version") { Description = "With DIR REMOTE: compare with this version instead of the branch head." };
        var stat = new Option<bool>("--stat") { Description = "Only the summary: counts and bytes." };
        var paths = CommonOptions.Paths("Only files at or under this path (repeatable).");
        var command = new Command("diff", "Show files added, removed and modified between two versions, or between a directory and a version.\n\nExamples:\n  merklesync diff file:///srv/repos/ds v1-tag main\n  merklesync diff ./data file:///srv/repos/ds")
        {
            first, second, third, branch, version, stat, paths,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            string? b = parse.GetValue(third);
            bool json = parse.GetValue(CliApp.Json);
            bool statOnly = parse.GetValue(stat);
            var selected = DatasetPath.FromArguments(parse.GetValue(paths) ?? []);
            if (b is not null)
            {
                return await CommonOptions.WithRemoteAsync(parse.GetValue(first)!, async r =>
                {
                    var oldVersion = await r.ResolveAsync(parse.GetValue(second)!, ct);
                    var newVersion = await r.ResolveAsync(b, ct);
                    return await PrintAsync(r.Nodes, oldVersion.Record.Root, newVersion.Record.Root, selected, json, statOnly, ct);
                }, ct);
            }

            string directory = parse.GetValue(first)!;
            if (!Directory.Exists(directory))
            {
                throw new InvalidInputException($"'{directory}' is not a directory; use 'diff REMOTE A B' to compare two versions.");
            }

            return await CommonOptions.WithRemoteAsync(parse.GetValue(second)!, async r =>
            {
                var target = parse.GetValue(version) is { } spec
                    ? await r.ResolveAsync(spec, ct)
                    : await r.GetBranchAsync(parse.GetValue(branch)!, ct) ?? throw new NotFoundException($"Branch '{parse.GetValue(branch)}' does not exist in {r.Url}.");
                var local = new MemoryTreeNodeStore();
                Hash current;
                if (ClientStateStore.Exists(directory))
                {
                    var scan = DirectoryScanner.ScanAsync(directory, ct); // meanwhile the state opens
                    using var state = ClientStateStore.Open(directory);
                    current = (await CachedSnapshotter.SnapshotAsync(await scan, state, local, ct)).Snapshot.Root;
                }
                else
                {
                    // Never synced: nothing is cached, and a diff leaves no state behind (as a look
                    // at a directory should not change it).
                    current = (await Snapshotter.SnapshotAsync(directory, local, ct)).Root;
                }

                return await PrintAsync(new LayeredNodeStore(local, r.Nodes), target.Record.Root, current, selected, json, statOnly, ct);
            }, ct, directory);
        }));
        return command;
    }

    /// <summary>One change as a line: <c>+</c> added, <c>-</c> removed, <c>M</c> modified, <c>R</c> renamed, with sizes.</summary>
    public static string Describe(TreeChange change) => change.Kind switch
    {
        ChangeKind.Added => $"+ {Format.Path(change.Path)}  ({Format.Bytes(change.New!.Value.Size)})",
        ChangeKind.Removed => $"- {Format.Path(change.Path)}  ({Format.Bytes(change.Old!.Value.Size)})",
        ChangeKind.Renamed => $"R {Format.Path(change.Old!.Value.Path)} -> {Format.Path(change.Path)}  ({Format.Bytes(change.New!.Value.Size)})",
        _ => $"M {Format.Path(change.Path)}  ({Format.Bytes(change.Old!.Value.Size)} -> {Format.Bytes(change.New!.Value.Size)})",
    };

    public static JsonObject ChangeJson(TreeChange change) => new()
    {
        ["kind"] = change.Kind.ToString().ToLowerInvariant(),
        ["path"] = change.Path,
        ["old_path"] = change.Kind == ChangeKind.Renamed ? change.Old!.Value.Path : null,
        ["old_hash"] = change.Old?.FileHash.ToString(),
        ["new_hash"] = change.New?.FileHash.ToString(),
        ["old_size"] = change.Old?.Size,
        ["new_size"] = change.New?.Size,
    };

    /// <summary>Prints a diff (renames paired up); exit code 0 either way, like <c>git diff</c>.</summary>
    public static async Task<int> PrintAsync(ITreeNodeStore nodes, Hash oldRoot, Hash newRoot, IReadOnlyList<string> paths, bool json, bool statOnly, CancellationToken cancellationToken)
    {
        var raw = new List<TreeChange>();
        await foreach (var change in TreeDiff.DiffAsync(nodes, oldRoot, newRoot, cancellationToken))
        {
            raw.Add(change);
        }

        var changes = PathHistory.Within(raw, paths);
        int Count(ChangeKind kind) => changes.Count(c => c.Kind == kind);
        long added = changes.Where(c => c.Kind == ChangeKind.Added).Sum(c => c.New!.Value.Size);
        long removed = changes.Where(c => c.Kind == ChangeKind.Removed).Sum(c => c.Old!.Value.Size);
        long modified = changes.Where(c => c.Kind == ChangeKind.Modified).Sum(c => c.New!.Value.Size);
        if (json)
        {
            JsonOut.Write(new JsonObject
            {
                ["old"] = oldRoot.ToString(),
                ["new"] = newRoot.ToString(),
                ["summary"] = new JsonObject
                {
                    ["added"] = Count(ChangeKind.Added),
                    ["removed"] = Count(ChangeKind.Removed),
                    ["modified"] = Count(ChangeKind.Modified),
                    ["renamed"] = Count(ChangeKind.Renamed),
                    ["bytes_added"] = added,
                    ["bytes_removed"] = removed,
                    ["bytes_modified"] = modified,
                },
                ["changes"] = statOnly ? new JsonArray() : new JsonArray([.. changes.Select(c => (JsonNode)ChangeJson(c))]),
            });
            return CliApp.Ok;
        }

        if (!statOnly)
        {
            foreach (var change in changes)
            {
                Console.Out.WriteLine(Describe(change));
            }
        }

        Console.Out.WriteLine(changes.Count == 0
            ? "No differences."
            : $"{Count(ChangeKind.Added)} added ({Format.Bytes(added)}), {Count(ChangeKind.Removed)} removed ({Format.Bytes(removed)}), "
              + $"{Count(ChangeKind.Modified)} modified ({Format.Bytes(modified)}), {Count(ChangeKind.Renamed)} renamed.");
        return CliApp.Ok;
    }
}
