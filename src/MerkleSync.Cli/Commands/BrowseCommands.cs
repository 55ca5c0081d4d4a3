using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary><c>show</c>, <c>ls</c> and <c>cat</c>: look inside a version without pulling it.</summary>
internal static class BrowseCommands
{
    private static Option<string> RemoteOption() => new("--remote", "-r") { Description = "Repository URL or remote name.", DefaultValueFactory = _ => "origin" };

    private static Argument<string> VersionArgument() => new("VERSION") { Description = "Branch, tag, version (root hash) or record id, or a prefix of 6+ hex digits." };

    public static Command Show()
    {
        var remote = RemoteOption();
        var version = VersionArgument();
        var command = new Command("show", "Show a version: id, parent, author, time, message, size.\n\nExample:\n  merklesync show main -r http://127.0.0.1:8470/ds") { version, remote };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var target = await r.ResolveAsync(parse.GetValue(version)!, ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(CommonOptions.VersionJson(target));
            }
            else
            {
                CommonOptions.PrintVersion(target);
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }

    public static Command List()
    {
        var remote = RemoteOption();
        var version = VersionArgument();
        var path = new Argument<string?>("PATH") { Description = "Only entries at or under this path.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("ls", "List the files of a version: mode, size, file hash, path.\n\nExample:\n  merklesync ls main data/ -r origin") { version, path, remote };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var target = await r.ResolveAsync(parse.GetValue(version)!, ct);
            string? prefix = parse.GetValue(path) is { } p ? DatasetPath.FromArgument(p) : null;
            var entries = new List<TreeEntry>();
            await r.PrefetchTreeAsync(target.Record.Root, ct);
            await foreach (var entry in TreeReader.EnumerateAsync(r.Nodes, target.Record.Root, ct))
            {
                if (prefix is null || DatasetPath.IsAtOrUnder(entry.Path, prefix))
                {
                    entries.Add(entry);
                }
            }

            if (prefix is not null && entries.Count == 0)
            {
                throw new NotFoundException($"'{prefix}' is not in version {target.Record.Root}.");
            }

            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
                {
                    ["path"] = e.Path,
                    ["size"] = e.Size,
                    ["mode"] = e.Mode.ToString().ToLowerInvariant(),
                    ["hash"] = e.FileHash.ToString(),
                })]));
            }
            else
            {
                foreach (var e in entries)
                {
                    string mode = e.Mode switch { EntryMode.Executable => "x", EntryMode.Symlink => "l", _ => "-" };
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode} {e.Size,14}  {e.FileHash}  {Format.Path(e.Path)}"));
                }
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }

    public static Command Cat()
    {
        var remote = RemoteOption();
        var version = VersionArgument();
        var path = new Argument<string>("PATH") { Description = "The file to print." };
        var command = new Command("cat", "Write one file of a version to standard output; every chunk is verified before it is written.\n\nExample:\n  merklesync cat main labels.csv -r origin | head") { version, path, remote };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var target = await r.ResolveAsync(parse.GetValue(version)!, ct);
            string filePath = DatasetPath.FromArgument(parse.GetValue(path)!)
                ?? throw new InvalidInputException($"'{parse.GetValue(path)}' is the root folder of version {target.Record.Root}; 'merklesync ls' lists it.");
            var entry = await TreeReader.FindAsync(r.Nodes, target.Record.Root, filePath, ct)
                ?? throw (await TreeReader.IsFolderAsync(r.Nodes, target.Record.Root, filePath, ct)
                    ? new InvalidInputException($"'{filePath}' is a folder in version {target.Record.Root}; 'merklesync ls' lists it.")
                    : new NotFoundException($"'{filePath}' is not in version {target.Record.Root}."));
            await using var stdout = Console.OpenStandardOutput();
            await FileStreamer.WriteToAsync(r, entry, stdout, ct);
            return CliApp.Ok;
        }, ct)));
        return command;
    }
}
