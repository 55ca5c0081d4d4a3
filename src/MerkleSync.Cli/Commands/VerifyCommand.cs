using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
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
        var command = new Command("verify", "Prove versions from their data: tree nodes, file hashes, pack presence; with --read-data every chunk. Exit code 3 if anything is wrong.\n\nExample:\n  merklesync verify file:///srv/repos/ds --read-data")
        {
            remote, version, readData,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, async () =>
        {
            await using var r = await RemoteUrl.OpenAsync(RemoteUrl.Resolve(parse.GetValue(remote)!), ct);
            var target = parse.GetValue(version) is { } spec ? await r.ResolveAsync(spec, ct) : null;
            VerifyReport report;
            if (r is LocalRemote local)
            {
                // In-process: also checks packs, index records and lengths the protocol does not expose.
                report = await RepositoryVerifier.VerifyAsync(local.Repository, target?.Id, parse.GetValue(readData), ct);
            }
            else
            {
                var versions = target is not null ? [target] : await ReachableAsync(r, ct);
                report = await RemoteVerifier.VerifyAsync(r, versions, parse.GetValue(readData), ct);
            }
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["ok"] = report.Ok,
                    ["versions"] = report.Versions,
                    ["nodes"] = report.Nodes,
                    ["files"] = report.Files,
                    ["chunks"] = report.Chunks,
                    ["packs_read"] = report.PacksRead,
                    ["bytes_read"] = report.BytesRead,
                    ["problems"] = new JsonArray([.. report.Problems.Select(p => new JsonObject
                    {
                        ["subject"] = p.Subject,
                        ["message"] = p.Message,
                        ["paths"] = new JsonArray([.. p.Paths.Select(x => (JsonNode)x)]),
                        ["versions"] = new JsonArray([.. p.Versions.Select(x => (JsonNode)x.ToString())]),
                    })]),
                });
            }
            else
            {
                Console.Out.WriteLine($"Checked {report.Versions} versions, {report.Nodes} tree nodes, {report.Files} files, {report.Chunks} chunk references"
                    + (parse.GetValue(readData) ? $", read {report.PacksRead} packs ({Format.Bytes(report.BytesRead)})." : "."));
                foreach (var problem in report.Problems)
                {
                    Console.Out.WriteLine($"PROBLEM {problem.Subject}: {problem.Message}");
                    foreach (string path in problem.Paths.Take(20))
                    {
                        Console.Out.WriteLine($"  breaks {path}");
                    }

                    foreach (var v in problem.Versions.Take(10))
                    {
                        Console.Out.WriteLine($"  in version record {v}");
                    }
                }

                Console.Out.WriteLine(report.Ok ? "No problems found." : $"{report.Problems.Count} problem(s) found.");
            }

            return report.Ok ? CliApp.Ok : CliApp.VerificationFailed;
        }));
        return command;
    }

    private static async Task<IReadOnlyList<VersionRef>> ReachableAsync(IRemote remote, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<MerkleSync.Core.Hashing.Hash, VersionRef>();
        foreach (var (_, id) in await remote.ListRefsAsync(cancellationToken))
        {
            foreach (var version in await remote.HistoryAsync(id, 100_000, cancellationToken))
            {
                versions.TryAdd(version.Id, version);
            }
        }

        return [.. versions.Values];
    }
}
