using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Statistics;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class StatsCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var version = new Argument<string?>("VERSION") { Description = "One version (default: every version a branch or tag reaches).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("stats", "Sizes of versions: what restoring them writes, their distinct files and chunks, and what those take stored (deduplication and compression ratios).\n\nExamples:\n  merklesync stats origin\n  merklesync stats file:///srv/repos/ds main")
        {
            remote, version,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var versions = parse.GetValue(version) is { } spec ? [await r.ResolveAsync(spec, ct)] : await r.ReachableVersionsAsync(ct);
            var stats = await DatasetStats.CollectAsync(r, versions, ct);
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["versions"] = stats.Versions,
                    ["entries"] = stats.Entries,
                    ["bytes"] = stats.Bytes,
                    ["distinct_files"] = stats.DistinctFiles,
                    ["distinct_file_bytes"] = stats.DistinctFileBytes,
                    ["chunks"] = stats.Chunks,
                    ["chunk_bytes"] = stats.ChunkBytes,
                    ["stored_bytes"] = stats.StoredBytes,
                    ["packs"] = stats.Packs,
                    ["deduplication_ratio"] = stats.DeduplicationRatio,
                    ["compression_ratio"] = stats.CompressionRatio,
                });
            }
            else
            {
                var c = CultureInfo.InvariantCulture;
                Console.Out.WriteLine(string.Create(c, $"{stats.Versions} versions: {stats.Entries:N0} entries, {Format.Bytes(stats.Bytes)} restored (summed over the versions)"));
                Console.Out.WriteLine(string.Create(c, $"Distinct files: {stats.DistinctFiles:N0}, {Format.Bytes(stats.DistinctFileBytes)}"));
                Console.Out.WriteLine(string.Create(c, $"Distinct chunks: {stats.Chunks:N0}, {Format.Bytes(stats.ChunkBytes)}; stored in {stats.Packs:N0} packs as {Format.Bytes(stats.StoredBytes)}"));
                Console.Out.WriteLine($"Deduplication {Format.Ratio(stats.DeduplicationRatio)}x, compression {Format.Ratio(stats.CompressionRatio)}x: {Format.Bytes(stats.Bytes)} take {Format.Bytes(stats.StoredBytes)}");
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }
}
