using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class GcCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var grace = new Option<string>("--grace") { Description = "Leave packs younger than this alone (e.g. 1h, 30m, 0s).", DefaultValueFactory = _ => "1h" };
        var command = new Command("gc", "Remove versions, files and chunks that no branch or tag reaches; rewrite packs that are mostly garbage.\n\nExample:\n  merklesync gc file:///srv/repos/ds") { remote, grace };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            await using var r = await RemoteUrl.OpenAsync(parse.GetValue(remote)!, null, ct);
            var graceTime = Duration.Parse(parse.GetValue(grace)!);
            var report = r is LocalRemote local
                ? await local.Repository.CollectGarbageAsync(new GcOptions(graceTime), ct)
                : await ((HttpRemote)r).CollectGarbageAsync(graceTime, ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["versions_removed"] = report.VersionsRemoved,
                    ["files_removed"] = report.FilesRemoved,
                    ["nodes_removed"] = report.NodesRemoved,
                    ["packs_deleted"] = report.PacksDeleted,
                    ["packs_rewritten"] = report.PacksRewritten,
                    ["bytes_freed"] = report.BytesFreed,
                    ["bytes_kept"] = report.BytesKept,
                });
            }
            else
            {
                Console.Out.WriteLine($"Removed {report.VersionsRemoved} versions, {report.FilesRemoved} files, {report.NodesRemoved} tree nodes; deleted {report.PacksDeleted} packs, rewrote {report.PacksRewritten}.");
                Console.Out.WriteLine($"Freed {Format.Bytes(report.BytesFreed)}; {Format.Bytes(report.BytesKept)} of packs remain.");
            }

            return CliApp.Ok;
        }));
        return command;
    }
}
