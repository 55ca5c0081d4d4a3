using System.CommandLine;
using MerkleSync.Server.Hosting;
using Microsoft.Extensions.Hosting;

namespace MerkleSync.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var root = new Option<string>("--root") { Description = "Folder holding one repository per dataset.", Required = true };
        var listen = new Option<string[]>("--listen") { Description = $"URL to listen on (repeatable; default {ServerSettings.DefaultListen}).", AllowMultipleArgumentsPerToken = true };
        var tokens = new Option<string?>("--tokens") { Description = "JSON file of bearer tokens and their per-dataset scopes; without it the server listens on loopback only." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate (chain) for https:// listen URLs." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var command = new Command("serve", "Run the sync server: datasets under --root, reached as http://HOST:PORT/DATASET.\n\nExample:\n  merklesync serve --root /srv/merklesync --listen http://0.0.0.0:8470 --tokens tokens.json")
        {
            root, listen, tokens, tlsCert, tlsKey,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            var listenUrls = parse.GetValue(listen) is { Length: > 0 } urls ? urls : [ServerSettings.DefaultListen];
            await using var app = ServerApp.Build(new ServerSettings(parse.GetValue(root)!, listenUrls, parse.GetValue(tokens), parse.GetValue(tlsCert), parse.GetValue(tlsKey)));
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return CliApp.Ok;
        }));
        return command;
    }
}
