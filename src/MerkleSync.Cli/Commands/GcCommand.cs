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
        var grace = GraceOption();
        var command = new Command("gc", "Remove versions, files and chunks that no branch or tag reaches; rewrite packs that are mostly garbage.\n\nExample:\n  merklesync gc file:///srv/repos/ds") { remote, grace };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            await using var r = await RemoteUrl.OpenAsync(parse.GetValue(remote)!, null, ct);
            var report = await CollectAsync(r, Duration.Parse(parse.GetValue(grace)!), ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(ReportJson(report));
            }
            else
            {
                PrintReport(report);
            }

            return CliApp.Ok;
        }));
        return command;
    }

    public static Option<string> GraceOption() =>
        new("--grace") { Description = "Leave packs younger than this alone (e.g. 1h, 30m, 0s).", DefaultValueFactory = _ => "1h" };

    public static Task<GcReport> CollectAsync(IRemote remote, TimeSpan grace, CancellationToken cancellationToken) => remote is LocalRemote local
        ? local.Repository.CollectGarbageAsync(new GcOptions(grace), cancellationToken)
        : ((HttpRemote)remote).CollectGarbageAsync(grace, cancellationToken);

    public static JsonObject ReportJson(GcReport report) => new()
    {
        ["versions_removed"] = report.VersionsRemoved,
        ["files_removed"] = report.FilesRemoved,
        ["nodes_removed"] = report.NodesRemoved,
        ["packs_deleted"] = report.PacksDeleted,
        ["packs_rewritten"] = report.PacksRewritten,
        ["bytes_freed"] = report.BytesFreed,
        ["bytes_kept"] = report.BytesKept,
    };

    public static void PrintReport(GcReport report)
    {
        Console.Out.WriteLine($"Removed {report.VersionsRemoved} versions, {report.FilesRemoved} files, {report.NodesRemoved} tree nodes; deleted {report.PacksDeleted} packs, rewrote {report.PacksRewritten}.");
        Console.Out.WriteLine($"Freed {Format.Bytes(report.BytesFreed)}; {Format.Bytes(report.BytesKept)} of packs remain.");
    }
}
