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
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Only say what would be removed and freed; change nothing." };
        var command = new Command("gc", "Remove versions, files and chunks that no branch or tag reaches; rewrite packs that are mostly garbage.\n\nExamples:\n  merklesync gc file:///srv/repos/ds --dry-run\n  merklesync gc file:///srv/repos/ds")
        {
            remote, grace, dryRun,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            await using var r = await RemoteUrl.OpenAsync(parse.GetValue(remote)!, null, ct);
            var report = await r.CollectGarbageAsync(Duration.Parse(parse.GetValue(grace)!), parse.GetValue(dryRun), ct);
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

    public static JsonObject ReportJson(GcReport report) => new()
    {
        ["versions_removed"] = report.VersionsRemoved,
        ["files_removed"] = report.FilesRemoved,
        ["nodes_removed"] = report.NodesRemoved,
        ["packs_deleted"] = report.PacksDeleted,
        ["packs_rewritten"] = report.PacksRewritten,
        ["bytes_freed"] = report.BytesFreed,
        ["bytes_kept"] = report.BytesKept,
        ["dry_run"] = report.DryRun,
    };

    public static void PrintReport(GcReport report)
    {
        if (report.DryRun)
        {
            Console.Out.WriteLine($"Would remove {report.VersionsRemoved} versions, {report.FilesRemoved} files, {report.NodesRemoved} tree nodes; delete {report.PacksDeleted} packs, rewrite {report.PacksRewritten}.");
            Console.Out.WriteLine($"Would free about {Format.Bytes(report.BytesFreed)}, leaving about {Format.Bytes(report.BytesKept)} of packs (nothing was changed).");
            return;
        }

        Console.Out.WriteLine($"Removed {report.VersionsRemoved} versions, {report.FilesRemoved} files, {report.NodesRemoved} tree nodes; deleted {report.PacksDeleted} packs, rewrote {report.PacksRewritten}.");
        Console.Out.WriteLine($"Freed {Format.Bytes(report.BytesFreed)}; {Format.Bytes(report.BytesKept)} of packs remain.");
    }
}
