using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class InitCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var packStore = new Option<string?>("--pack-store")
        {
            Description = "Keep the packs in S3 (s3://BUCKET/PREFIX, or s3:http://HOST:PORT/BUCKET/PREFIX for an S3-compatible server) instead of under the repository; file:// remotes only (a server is given it by 'serve --pack-store'). Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile.",
        };
        var command = new Command("init", "Create an empty repository.\n\nExamples:\n  merklesync init file:///srv/repos/imagenet\n  merklesync init file:///srv/repos/imagenet --pack-store s3://my-bucket/imagenet\n  merklesync init http://127.0.0.1:8470/imagenet") { remote, packStore };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            string url = parse.GetValue(remote)!;
            var store = parse.GetValue(packStore) is { } text ? S3Location.Parse(text) : null;
            if (RemoteUrl.IsHttp(url))
            {
                if (store is not null)
                {
                    throw new InvalidInputException("--pack-store applies to file:// remotes; a server keeps its datasets' packs where 'merklesync serve --pack-store' says.");
                }

                await using var http = (HttpRemote)await RemoteUrl.OpenAsync(url, null, ct);
                await http.CreateAsync(ct);
                url = http.Url;
            }
            else
            {
                string path = RemoteUrl.LocalPath(url);
                (await MerkleSync.Core.Repository.Repository.InitAsync(path, store, ct)).Dispose();
                url = "file://" + path;
            }

            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject { ["created"] = url });
            }
            else
            {
                Console.Out.WriteLine($"Created an empty repository at {url}");
            }

            return CliApp.Ok;
        }));
        return command;
    }
}
