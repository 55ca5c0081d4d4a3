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
        var command = new Command("init", "Create an empty repository.\n\nExample:\n  merklesync init file:///srv/repos/imagenet") { remote };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            string path = RemoteUrl.LocalPath(parse.GetValue(remote)!);
            MerkleSync.Core.Repository.Repository.Init(path).Dispose();
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject { ["created"] = "file://" + path });
            }
            else
            {
                Console.Out.WriteLine($"Created an empty repository at file://{path}");
            }

            return Task.FromResult(CliApp.Ok);
        }));
        return command;
    }
}
