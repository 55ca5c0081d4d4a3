using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;

namespace MerkleSync.Cli.Commands;

internal static class TagCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var name = new Argument<string>("NAME") { Description = "The tag name." };
        var version = new Argument<string>("VERSION") { Description = "Branch, tag, version or record id (or prefix) to tag.", DefaultValueFactory = _ => "main" };
        var command = new Command("tag", "Name a version so it can be pulled and kept by garbage collection.\n\nExample:\n  merklesync tag file:///srv/repos/ds release-1 main") { remote, name, version };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var target = await r.ResolveAsync(parse.GetValue(version)!, ct);
            await r.SetTagAsync(parse.GetValue(name)!, target.Id, ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject { ["tag"] = parse.GetValue(name), ["version"] = target.Record.Root.ToString(), ["record"] = target.Id.ToString() });
            }
            else
            {
                Console.Out.WriteLine($"Tagged version {target.Record.Root} as '{parse.GetValue(name)}'.");
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }
}
