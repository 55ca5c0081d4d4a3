using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class LogCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var branch = CommonOptions.Branch();
        var max = new Option<int>("--max-count", "-n") { Description = "Show at most this many versions.", DefaultValueFactory = _ => 50 };
        max.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--max-count must be at least 1.");
            }
        });
        var paths = CommonOptions.Paths("Only the versions that changed a file at or under this path (repeatable; '.' for all), each with its changes there.");
        var command = new Command("log", "Show the history of a branch: version, parent, who, when, why, size and new bytes.\n\nExamples:\n  merklesync log file:///srv/repos/ds -n 5\n  merklesync log origin --path labels/train.csv")
        {
            remote, branch, max, paths,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            VersionRef head;
            try
            {
                head = await r.ResolveAsync(parse.GetValue(branch)!, ct);
            }
            catch (NotFoundException)
            {
                if ((await r.ListRefsAsync(ct)).Count == 0)
                {
                    throw new NotFoundException($"{r.Url} has no versions yet: the first push creates branch 'main'.");
                }

                throw;
            }

            if (parse.GetValue(paths) is { Length: > 0 } given)
            {
                return await PrintChangesAsync(r, head, Core.Tree.DatasetPath.FromArguments(given), parse.GetValue(max), parse.GetValue(CliApp.Json), ct);
            }

            var history = await r.HistoryInPagesAsync(head.Id, parse.GetValue(max), ct).ToListAsync(ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonArray([.. history.Select(CommonOptions.VersionJson)]));
                return CliApp.Ok;
            }

            for (int i = 0; i < history.Count; i++)
            {
                CommonOptions.PrintVersion(history[i]);
                Console.Out.WriteLine();
                if (i + 1 < history.Count && history[i].Record.Parent != history[i + 1].Id)
                {
                    Console.Out.WriteLine($"(parent record {history[i].Record.Parent.ToString()[..12]} was forgotten; the versions kept before it follow)");
                    Console.Out.WriteLine();
                }
            }

            if (history.Count < parse.GetValue(max) && !history[^1].Record.Parent.IsZero)
            {
                Console.Out.WriteLine($"(parent record {history[^1].Record.Parent.ToString()[..12]} was forgotten: the history ends here)");
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }

    /// <summary>The versions that changed something under <paramref name="paths"/>, each with what it changed there.</summary>
    private static async Task<int> PrintChangesAsync(IRemote remote, VersionRef head, IReadOnlyList<string> paths, int max, bool json, CancellationToken cancellationToken)
    {
        var shown = new JsonArray();
        await foreach (var (version, changes) in PathHistory.ChangesAsync(remote, head, paths, max, cancellationToken))
        {
            if (json)
            {
                var entry = CommonOptions.VersionJson(version);
                entry["changes"] = new JsonArray([.. changes.Select(c => (JsonNode)DiffCommand.ChangeJson(c))]);
                shown.Add(entry);
                continue;
            }

            CommonOptions.PrintVersion(version);
            Console.Out.WriteLine();
            foreach (var change in changes)
            {
                Console.Out.WriteLine("    " + DiffCommand.Describe(change));
            }

            Console.Out.WriteLine();
        }

        if (json)
        {
            JsonOut.Write(shown);
        }
        else if (shown.Count == 0)
        {
            Console.Out.WriteLine($"No version in this history changed {string.Join(" or ", paths.Select(p => $"'{p}'"))}.");
        }

        return CliApp.Ok;
    }
}
