using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;

namespace MerkleSync.Cli.Commands;

internal static class RepairCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var packs = new Argument<string[]>("PACK") { Description = "Ids of the packs to repair, as 'verify --read-data' names them.", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Check every pack where it is stored (the server reads them; nothing is downloaded) and repair the damaged ones." };
        var command = new Command("repair", "Salvage damaged packs, as 'restic repair packs': the repository reads each pack back, keeps its intact chunks in a new pack, and forgets the files that used a damaged chunk, so that 'push --full' from a copy that has those files sends them again. An intact pack is left as it is.\n\nExamples:\n  merklesync verify origin --read-data\n  merklesync repair origin 5c1e0f…\n  merklesync repair origin --all\n  merklesync push --full ./data origin")
        {
            remote, packs, all,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            var named = parse.GetValue(packs)!.Select(text => Hash.TryParse(text, out var id) ? id : throw new InvalidInputException($"'{text}' is not a pack id (64 hex digits).")).ToList();
            if (named.Count > 0 == parse.GetValue(all))
            {
                throw new InvalidInputException("Name the packs to repair, or give --all (not both).");
            }

            await using var r = await RemoteUrl.OpenAsync(parse.GetValue(remote)!, null, ct);
            var progress = new OperationProgress();
            var reports = await ProgressDisplay.RunAsync(parse, progress, () => r.WireBytes, async () =>
            {
                var ids = named.Count > 0 ? named : await r.ListPackIdsAsync(ct).ToListAsync(ct);
                progress.SetItemsToDo(ids.Count);
                progress.Enter(Stage.Repairing);
                var checkedPacks = new List<PackRepairReport>();
                foreach (var id in ids)
                {
                    checkedPacks.Add(await r.RepairPackAsync(id, ct)); // the repository does the work, in this process or on the server
                    progress.AddItemDone();
                }

                return checkedPacks;
            });

            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonArray([.. reports.Select(report => (JsonNode)WireFormat.RepairJson(report))]));
            }
            else
            {
                foreach (var report in reports.Where(report => !report.Intact || named.Count > 0))
                {
                    Console.Out.WriteLine(report.Intact
                        ? $"Pack {report.PackId} is intact; nothing changed."
                        : $"Pack {report.PackId}: kept {report.ChunksKept} chunks{(report.NewPack is { } moved ? $" (now in pack {moved})" : "")}, lost {report.ChunksLost}; {report.FilesLost.Count} file(s) forgotten.");
                }

                if (named.Count == 0)
                {
                    Console.Out.WriteLine($"Checked {reports.Count} pack(s): {reports.Count(report => report.Intact)} intact, {reports.Count(report => !report.Intact)} repaired.");
                }

                if (reports.Any(report => report.FilesLost.Count > 0))
                {
                    Console.Out.WriteLine("Versions with a forgotten file cannot be pulled whole until it is sent again: run 'merklesync push --full DIR' from a copy that has it.");
                }
            }

            return CliApp.Ok;
        }));
        return command;
    }
}
