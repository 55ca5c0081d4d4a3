using System.CommandLine;
using MerkleSync.Core.Backends;
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
        var packStore = new Option<string?>("--pack-store")
        {
            Description = "Keep the packs of datasets created from now on in S3, each under PREFIX/DATASET (s3://BUCKET/PREFIX, or s3:http://HOST:PORT/BUCKET/PREFIX for an S3-compatible server); indexes stay under --root. Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile.",
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "How log lines go to stderr: text (one line each) or json (one object per line, the access log's fields apart). Both start with a UTC timestamp.",
            DefaultValueFactory = _ => "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var command = new Command("serve", "Run the sync server: datasets under --root, reached as http://HOST:PORT/DATASET.\n\nExample:\n  merklesync serve --root /srv/merklesync --listen http://0.0.0.0:8470 --tokens tokens.json")
        {
            root, listen, tokens, tlsCert, tlsKey, packStore, logFormat,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            var listenUrls = parse.GetValue(listen) is { Length: > 0 } urls ? urls : [ServerSettings.DefaultListen];
            await using var app = ServerApp.Build(new ServerSettings(parse.GetValue(root)!, listenUrls, parse.GetValue(tokens), parse.GetValue(tlsCert), parse.GetValue(tlsKey), PackStore: parse.GetValue(packStore) is { } store ? S3Location.Parse(store) : null,
                LogFormat: ServerSettings.ParseLogFormat(parse.GetValue(logFormat)!)));
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return CliApp.Ok;
        }));
        return command;
    }
}
