using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary>
/// List, create, move and delete tags. A tag names a release: it does not move unless told to
/// (<c>--force</c>), and every change is a compare-and-swap, as for branches.
/// </summary>
internal static class TagCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var name = new Argument<string?>("NAME") { Description = "The tag to create, move or delete; without it, list the tags.", Arity = ArgumentArity.ZeroOrOne };
        var version = new Argument<string>("VERSION") { Description = "Branch, tag, version or record id (or prefix) to tag.", DefaultValueFactory = _ => "main" };
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete the tag (its version stays if a branch or another tag reaches it; else gc may remove it)." };
        var force = new Option<bool>("--force", "-f") { Description = "Move an existing tag to VERSION." };
        var command = new Command("tag", "List tags, or name a version so it can be pulled and kept by garbage collection.\n\nExamples:\n  merklesync tag file:///srv/repos/ds\n  merklesync tag file:///srv/repos/ds release-1 main\n  merklesync tag file:///srv/repos/ds release-1 --delete")
        {
            remote, name, version, delete, force,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            bool json = parse.GetValue(CliApp.Json);
            var tags = await TagsAsync(r, ct);
            if (parse.GetValue(name) is not { } tag)
            {
                return await ListAsync(r, tags, json, ct);
            }

            Hash? current = tags.TryGetValue(tag, out var id) ? id : null;
            if (parse.GetValue(delete))
            {
                var was = await r.ResolveAsync((current ?? throw new NotFoundException($"No tag '{tag}'.")).ToString(), ct);
                await r.UpdateTagAsync(tag, null, current, ct);
                Report(json, tag, "deleted", was, $"Deleted tag '{tag}' (was version {was.Record.Root}).\n{RefOutput.Left("tag", r, tag, was.Id)}");
                return CliApp.Ok;
            }

            var target = await r.ResolveAsync(parse.GetValue(version)!, ct);
            if (current == target.Id)
            {
                Report(json, tag, "unchanged", target, $"Tag '{tag}' already names version {target.Record.Root}.");
                return CliApp.Ok;
            }

            if (current is { } other && !parse.GetValue(force))
            {
                var named = await r.ResolveAsync(other.ToString(), ct);
                throw new ConflictException($"Tag '{tag}' already names version {named.Record.Root}; use --force to move it.");
            }

            await r.UpdateTagAsync(tag, target.Id, current, ct);
            Report(json, tag, current is null ? "created" : "moved", target, current is { } previous
                ? $"Tagged version {target.Record.Root} as '{tag}' (it named record {previous}).\n{RefOutput.Left("tag", r, tag, previous)}"
                : $"Tagged version {target.Record.Root} as '{tag}'.");
            return CliApp.Ok;
        }, ct)));
        return command;
    }

    private static async Task<Dictionary<string, Hash>> TagsAsync(IRemote remote, CancellationToken ct) =>
        (await remote.ListRefsAsync(ct)).Where(r => r.Name.IsTag).ToDictionary(r => r.Name.Name, r => r.Id, StringComparer.Ordinal);

    private static async Task<int> ListAsync(IRemote remote, Dictionary<string, Hash> tags, bool json, CancellationToken ct)
    {
        var named = new List<(string Name, VersionRef Version)>();
        foreach (var (tag, id) in tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            named.Add((tag, await remote.ResolveAsync(id.ToString(), ct)));
        }

        if (named.Count == 0 && !json)
        {
            Console.Out.WriteLine($"No tags in {remote.Url}.");
        }

        RefOutput.List("tag", named, json);
        return CliApp.Ok;
    }

    private static void Report(bool json, string tag, string action, VersionRef version, string text) =>
        RefOutput.Report(json, "tag", tag, action, version, text);
}
