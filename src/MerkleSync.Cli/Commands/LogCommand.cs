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
        var command = new Command("log", "Show the history of a branch: version, parent, who, when, why, size and new bytes.\n\nExample:\n  merklesync log file:///srv/repos/ds -n 5") { remote, branch, max };
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

            var history = await r.HistoryInPagesAsync(head.Id, parse.GetValue(max), ct).ToListAsync(ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonArray([.. history.Select(CommonOptions.VersionJson)]));
                return CliApp.Ok;
            }

            foreach (var version in history)
            {
                CommonOptions.PrintVersion(version);
                Console.Out.WriteLine();
            }

            if (history.Count < parse.GetValue(max) && !history[^1].Record.Parent.IsZero)
            {
                Console.Out.WriteLine($"(parent record {history[^1].Record.Parent.ToString()[..12]} was forgotten: the history ends here)");
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }
}
