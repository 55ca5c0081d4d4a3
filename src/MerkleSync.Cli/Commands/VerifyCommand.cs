using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Verification;

namespace MerkleSync.Cli.Commands;

internal static class VerifyCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var version = new Argument<string?>("VERSION") { Description = "One version (default: every version a branch or tag reaches).", Arity = ArgumentArity.ZeroOrOne };
        var readData = new Option<bool>("--read-data") { Description = "Also read every pack and re-hash every chunk." };
        var readDataSubset = new Option<string?>("--read-data-subset")
        {
            Description = "Read only some packs: n/t reads group n of t (run 1/t to t/t, e.g. one a day, to read every pack once), P% a random share.",
            HelpName = "n/t|P%",
        };
        var command = new Command("verify", "Prove versions from their data: tree nodes, file hashes, pack presence; with --read-data every chunk. Given a VERSION, also print its provenance chain back to the first version (or to where older versions were forgotten). Exit code 3 if anything is wrong.\n\nExamples:\n  merklesync verify file:///srv/repos/ds --read-data\n  merklesync verify origin 3f2a9c --read-data\n  merklesync verify origin --read-data-subset 3/7")
        {
            remote, version, readData, readDataSubset,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            var read = parse.GetValue(readDataSubset) is { } subset ? PackSubset.Parse(subset) : parse.GetValue(readData) ? PackSubset.All : PackSubset.None;
            await using var r = await RemoteUrl.OpenAsync(parse.GetValue(remote)!, null, ct);
            var target = parse.GetValue(version) is { } spec ? await r.ResolveAsync(spec, ct) : null;
            var progress = new OperationProgress();
            var report = await ProgressDisplay.RunAsync(parse, progress, () => r.WireBytes, async () =>
            {
                if (r is LocalRemote local)
                {
                    // In-process: also checks packs, index records and lengths the protocol does not expose.
                    return await RepositoryVerifier.VerifyAsync(local.Repository, target?.Id, read, progress, ct);
                }

                var versions = target is not null ? [target] : await r.ReachableVersionsAsync(ct);
                return await RemoteVerifier.VerifyAsync(r, versions, read, progress, ct);
            });

            var (chain, chainProblem) = target is null ? ([], null) : await ProvenanceAsync(r, target, ct);
            bool ok = report.Ok && chainProblem is null;
            // A whole chain that does not end at a first version ends where its next parent was forgotten.
            var forgottenParent = chainProblem is null && chain.Count > 0 && !chain[^1].Record.Parent.IsZero ? chain[^1].Record.Parent : (Core.Hashing.Hash?)null;
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["ok"] = ok,
                    ["versions"] = report.Versions,
                    ["nodes"] = report.Nodes,
                    ["files"] = report.Files,
                    ["chunks"] = report.Chunks,
                    ["packs_read"] = report.PacksRead,
                    ["bytes_read"] = report.BytesRead,
                    ["read_subset"] = read.Description,
                    ["problems"] = new JsonArray([.. report.Problems.Select(p => new JsonObject
                    {
                        ["subject"] = p.Subject,
                        ["message"] = p.Message,
                        ["paths"] = new JsonArray([.. p.Paths.Select(x => (JsonNode)x)]),
                        ["versions"] = new JsonArray([.. p.Versions.Select(x => (JsonNode)x.ToString())]),
                        ["damaged_pack"] = p.DamagedPack?.ToString(),
                    })]),
                    ["provenance"] = new JsonArray([.. chain.Select(v => (JsonNode)CommonOptions.VersionJson(v))]),
                    ["provenance_problem"] = chainProblem,
                    ["provenance_forgotten_parent"] = forgottenParent?.ToString(),
                });
            }
            else
            {
                Console.Out.WriteLine($"Checked {report.Versions} versions, {report.Nodes} tree nodes, {report.Files} files, {report.Chunks} chunk references"
                    + (read.IsNone ? "." : $", read {report.PacksRead} packs ({Format.Bytes(report.BytesRead)}){(read == PackSubset.All ? "" : $" of subset {read.Description}")}."));
                foreach (var problem in report.Problems)
                {
                    Console.Out.WriteLine($"PROBLEM {problem.Subject}: {problem.Message}");
                    foreach (string path in problem.Paths.Take(20))
                    {
                        Console.Out.WriteLine($"  breaks {Format.Path(path)}");
                    }

                    foreach (var v in problem.Versions.Take(10))
                    {
                        Console.Out.WriteLine($"  in version record {v}");
                    }
                }

                if (target is not null)
                {
                    Console.Out.WriteLine($"Provenance of version {target.Record.Root} (each record hashes to its id and names its parent):");
                    for (int i = 0; i < chain.Count; i++)
                    {
                        var record = chain[i].Record;
                        Console.Out.WriteLine($"  {record.Root.ToString()[..12]}  record {chain[i].Id.ToString()[..12]}  {record.Time.UtcDateTime:yyyy-MM-dd HH:mm} UTC  {record.Author}  {Format.FirstLine(record.Message)}");
                        if (i + 1 < chain.Count && record.Parent != chain[i + 1].Id)
                        {
                            Console.Out.WriteLine($"  (parent record {record.Parent.ToString()[..12]} was forgotten; the chain goes on with the versions kept before it)");
                        }
                    }

                    if (chainProblem is not null)
                    {
                        Console.Out.WriteLine($"PROBLEM provenance: {chainProblem}");
                    }
                    else if (forgottenParent is { } parent)
                    {
                        Console.Out.WriteLine($"  (parent record {parent.ToString()[..12]} was forgotten: the chain ends here)");
                    }
                }

                var damagedPacks = report.Problems.Select(p => p.DamagedPack).OfType<Core.Hashing.Hash>().Distinct().ToList();
                if (damagedPacks.Count > 0)
                {
                    Console.Out.WriteLine($"{damagedPacks.Count} pack(s) are damaged or missing. To keep what is intact in them and have a push send the rest again:");
                    Console.Out.WriteLine($"  merklesync repair {parse.GetValue(remote)} {string.Join(' ', damagedPacks)}");
                    Console.Out.WriteLine("  merklesync push --full DIR   (from a copy that has the files named above)");
                }

                int problems = report.Problems.Count + (chainProblem is null ? 0 : 1);
                Console.Out.WriteLine(ok ? "No problems found." : $"{problems} problem(s) found.");
            }

            return ok ? CliApp.Ok : CliApp.VerificationFailed;
        }));
        return command;
    }

    /// <summary>
    /// The version's records back to the first one (or to where the history ends at forgotten
    /// versions), stepping over forgotten ones. Each record was already checked to hash to its id
    /// when it was read; a history that cannot be read is the problem.
    /// </summary>
    private static async Task<(IReadOnlyList<VersionRef> Chain, string? Problem)> ProvenanceAsync(IRemote remote, VersionRef target, CancellationToken cancellationToken)
    {
        var chain = new List<VersionRef>();
        try
        {
            await foreach (var version in remote.HistoryInPagesAsync(target.Id, long.MaxValue, cancellationToken))
            {
                chain.Add(version);
            }
        }
        catch (CorruptDataException e)
        {
            return (chain, e.Message);
        }

        return (chain, null);
    }
}
