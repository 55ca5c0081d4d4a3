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
        var tokenStdin = new Option<bool>("--token-stdin") { Description = "Read a bearer token for this server from standard input and keep it in DIR's state (MERKLESYNC_TOKEN still wins)." };
        var add = new Command("add", "Add or change a named remote.") { name, url, tokenStdin };
        add.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            string remoteName = parse.GetValue(name)!;
            if (remoteName.Length == 0 || !remoteName.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                throw new InvalidInputException($"'{remoteName}' is not a valid remote name (letters, digits, '.', '_', '-').");
            }

            // Everything is checked, and the token read, before anything is written: a refused add changes nothing.
            string target = RemoteUrl.Normalize(parse.GetValue(url)!);
            string? token = null;
            if (parse.GetValue(tokenStdin))
            {
                token = Console.In.ReadLine()?.Trim() ?? "";
                if (!RemoteUrl.IsHttp(target) || token.Length == 0)
                {
                    throw new InvalidInputException(token.Length == 0 ? "--token-stdin read no token from standard input." : "Tokens are for http(s):// remotes only.");
                }
            }

            using var state = ClientStateStore.Open(parse.GetValue(dir)!);
            string? previous = state.GetRemote(remoteName);
            state.SetRemote(remoteName, target);
            if (token is not null)
            {
                state.SetToken(target, token);
            }

            if (previous is not null)
            {
                ForgetTokenIfUnused(state, previous);
            }

            return Print(parse, RemoteJson(state, remoteName, target), $"{remoteName}  {target}{(state.GetToken(target) is null ? "" : "  (token stored)")}");
        }));

        var list = new Command("list", "List named remotes.");
        list.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            if (!ClientStateStore.Exists(parse.GetValue(dir)!))
            {
                return Print(parse, new JsonArray(), "");
            }

            using var state = ClientStateStore.OpenToRead(parse.GetValue(dir)!);
            var remotes = state.ListRemotes();
            return Print(parse, new JsonArray([.. remotes.Select(r => (JsonNode)RemoteJson(state, r.Name, r.Url))]),
                string.Join('\n', remotes.Select(r => $"{r.Name}  {r.Url}{(state.GetToken(r.Url) is null ? "" : "  (token stored)")}")));
        }));

        var removeName = new Argument<string>("NAME");
        var remove = new Command("remove", "Forget a named remote.") { removeName };
        remove.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            using var state = ClientStateStore.Open(parse.GetValue(dir)!);
            string? removedUrl = state.RemoveRemote(parse.GetValue(removeName)!);
            if (removedUrl is not null)
            {
                ForgetTokenIfUnused(state, removedUrl);
            }

            return removedUrl is not null
                ? Print(parse, new JsonObject { ["removed"] = parse.GetValue(removeName) }, $"Removed {parse.GetValue(removeName)}.")
                : throw new InvalidInputException($"No remote named '{parse.GetValue(removeName)}'.");
        }));

        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(remove);
        return command;
    }

    /// <summary>Forgets the token stored for <paramref name="url"/> once no name uses that server any more.</summary>
    private static void ForgetTokenIfUnused(ClientStateStore state, string url)
    {
        if (state.ListRemotes().All(r => r.Url != url) && state.GetToken(url) is not null)
        {
            state.SetToken(url, null);
        }
    }

    /// <summary>A remote as JSON: whether a token is stored, never the token.</summary>
    private static JsonObject RemoteJson(ClientStateStore state, string name, string url) =>
        new() { ["name"] = name, ["url"] = url, ["token"] = state.GetToken(url) is not null };

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
