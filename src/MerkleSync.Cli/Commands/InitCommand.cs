using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class InitCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var command = new Command("init", "Create an empty repository.\n\nExamples:\n  merklesync init file:///srv/repos/imagenet\n  merklesync init http://127.0.0.1:8470/imagenet") { remote };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            string url = parse.GetValue(remote)!;
            if (RemoteUrl.IsHttp(url))
            {
                await using var http = (HttpRemote)await RemoteUrl.OpenAsync(url, null, ct);
                await http.CreateAsync(ct);
                url = http.Url;
            }
            else
            {
                string path = RemoteUrl.LocalPath(url);
                MerkleSync.Core.Repository.Repository.Init(path).Dispose();
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
