using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary>List, create, move and delete branches; every change is a compare-and-swap on the branch head.</summary>
internal static class BranchCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var name = new Argument<string?>("NAME") { Description = "The branch to create, move or delete; without it, list the branches.", Arity = ArgumentArity.ZeroOrOne };
        var from = new Argument<string>("FROM") { Description = "Branch, tag or version the new branch starts at.", DefaultValueFactory = _ => "main" };
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete the branch (its versions stay reachable from other branches and tags that contain them)." };
        var force = new Option<bool>("--force", "-f") { Description = "Move an existing branch to FROM." };
        var dropped = new Option<bool>("--dropped")
        {
            Description = "List the versions branches and tags left (deleted or moved away) that gc still keeps for its grace period, newest first, with the command that brings each back.",
        };
        var command = new Command("branch", "List branches, or create, move or delete one.\n\nExamples:\n  merklesync branch origin\n  merklesync branch origin experiment main\n  merklesync branch origin experiment --delete\n  merklesync branch origin --dropped")
        {
            remote, name, from, delete, force, dropped,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            bool json = parse.GetValue(CliApp.Json);
            if (parse.GetValue(dropped))
            {
                return parse.GetValue(name) is null
                    ? await ListDroppedAsync(r, json, ct)
                    : throw new InvalidInputException("--dropped lists; it takes no branch name.");
            }

            if (parse.GetValue(name) is not { } branch)
            {
                return await ListAsync(r, json, ct);
            }

            var head = await r.GetBranchAsync(branch, ct);
            if (parse.GetValue(delete))
            {
                if (head is null)
                {
                    throw new NotFoundException($"No branch '{branch}'.");
                }

                await r.UpdateBranchAsync(branch, null, head.Id, ct);
                Report(json, branch, "deleted", head, $"Deleted branch '{branch}' (was version {head.Record.Root}).\n{RefOutput.Left("branch", r, branch, head.Id)}");
                return CliApp.Ok;
            }

            if (head is not null && !parse.GetValue(force))
            {
                throw new ConflictException($"Branch '{branch}' already exists (at version {head.Record.Root}); use --force to move it.");
            }

            var target = await r.ResolveAsync(parse.GetValue(from)!, ct);
            await r.UpdateBranchAsync(branch, target.Id, head?.Id, ct);
            Report(json, branch, head is null ? "created" : "moved", target, head is null
                ? $"Created branch '{branch}' at version {target.Record.Root}."
                : $"Moved branch '{branch}' to version {target.Record.Root} (was version {head.Record.Root}).\n{RefOutput.Left("branch", r, branch, head.Id)}");
            return CliApp.Ok;
        }, ct)));
        return command;
    }

    private static async Task<int> ListDroppedAsync(IRemote remote, bool json, CancellationToken ct)
    {
        var left = await remote.ListDroppedAsync(ct);
        if (json)
        {
            var list = new JsonArray();
            foreach (var d in left)
            {
                var entry = RefOutput.Describe(d.Name.Kind, d.Name.Name, await remote.ResolveAsync(d.Id.ToString(), ct));
                entry.Insert(1, "left_at", d.LeftAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
                list.Add(entry);
            }

            JsonOut.Write(list);
            return CliApp.Ok;
        }

        if (left.Count == 0)
        {
            Console.Out.WriteLine($"No branch or tag of {remote.Url} left a version that gc still keeps.");
        }

        foreach (var d in left)
        {
            Console.Out.WriteLine($"{d.LeftAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC  {d.Name} left record {d.Id}: {RefOutput.RestoreCommand(d.Name.Kind, remote, d.Name.Name, d.Id)}");
        }

        return CliApp.Ok;
    }

    private static async Task<int> ListAsync(IRemote remote, bool json, CancellationToken ct)
    {
        var branches = new List<(string Name, VersionRef Head)>();
        foreach (var (refName, _) in await remote.ListRefsAsync(ct))
        {
            if (!refName.IsTag && await remote.GetBranchAsync(refName.Name, ct) is { } head)
            {
                branches.Add((refName.Name, head));
            }
        }

        if (branches.Count == 0 && !json)
        {
            Console.Out.WriteLine($"No branches yet in {remote.Url}: the first push creates 'main'.");
        }

        RefOutput.List("branch", branches, json);
        return CliApp.Ok;
    }

    private static void Report(bool json, string branch, string action, VersionRef version, string text) =>
        RefOutput.Report(json, "branch", branch, action, version, text);
}
