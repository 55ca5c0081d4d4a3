using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary><c>remote add/list/remove</c>: names for repositories, kept in a dataset directory's state.</summary>
internal static class RemoteCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { Description = "The dataset directory whose remotes these are.", DefaultValueFactory = _ => ".", Recursive = true };
        var command = new Command("remote", "Name repositories so commands can say 'origin' instead of a URL.\n\nExample:\n  merklesync remote add origin http://127.0.0.1:8470/ds") { dir };

        var name = new Argument<string>("NAME") { Description = "Letters, digits, '.', '_' or '-'." };
        var url = new Argument<string>("URL") { Description = "file:///path/DATASET or http(s)://host:port/DATASET." };
        var add = new Command("add", "Add or change a named remote.") { name, url };
        add.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            string remoteName = parse.GetValue(name)!;
            if (remoteName.Length == 0 || !remoteName.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                throw new InvalidInputException($"'{remoteName}' is not a valid remote name (letters, digits, '.', '_', '-').");
            }

            string target = parse.GetValue(url)!;
            target = RemoteUrl.IsHttp(target) ? target.TrimEnd('/') : "file://" + RemoteUrl.LocalPath(target);
            using var state = ClientStateStore.Open(parse.GetValue(dir)!);
            state.SetRemote(remoteName, target);
            return Print(parse, new JsonObject { ["name"] = remoteName, ["url"] = target }, $"{remoteName}  {target}");
        }));

        var list = new Command("list", "List named remotes.");
        list.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            var remotes = ClientStateStore.Exists(parse.GetValue(dir)!) ? Remotes(parse.GetValue(dir)!) : [];
            return Print(parse, new JsonArray([.. remotes.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["url"] = r.Url })]),
                string.Join('\n', remotes.Select(r => $"{r.Name}  {r.Url}")));
        }));

        var removeName = new Argument<string>("NAME");
        var remove = new Command("remove", "Forget a named remote.") { removeName };
        remove.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            using var state = ClientStateStore.Open(parse.GetValue(dir)!);
            return state.RemoveRemote(parse.GetValue(removeName)!)
                ? Print(parse, new JsonObject { ["removed"] = parse.GetValue(removeName) }, $"Removed {parse.GetValue(removeName)}.")
                : throw new InvalidInputException($"No remote named '{parse.GetValue(removeName)}'.");
        }));

        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(remove);
        return command;
    }

    private static IReadOnlyList<(string Name, string Url)> Remotes(string dir)
    {
        using var state = ClientStateStore.Open(dir);
        return state.ListRemotes();
    }

    private static Task<int> Print(ParseResult parse, JsonNode json, string text)
    {
        if (parse.GetValue(CliApp.Json))
        {
            JsonOut.Write(json);
        }
        else if (text.Length > 0)
        {
            Console.Out.WriteLine(text);
        }

        return Task.FromResult(CliApp.Ok);
    }
}
