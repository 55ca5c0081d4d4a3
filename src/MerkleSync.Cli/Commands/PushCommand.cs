using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

internal static class PushCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("DIR") { Description = "The dataset directory to snapshot." };
        var remote = CommonOptions.Remote();
        remote.Arity = ArgumentArity.ZeroOrOne; // as `git push`: the remote the first push or pull named
        remote.DefaultValueFactory = _ => "origin";
        var branch = CommonOptions.Branch();
        var message = new Option<string>("--message", "-m") { Description = "Why this version exists.", DefaultValueFactory = _ => "" };
        var rebase = new Option<bool>("--rebase") { Description = "If the branch moved since DIR last synced, put DIR's changes on top of it (refused if a path changed on both sides)." };
        var compression = new Option<string>("--compression")
        {
            Description = "How chunks are stored, each compressed only when that makes it smaller. auto (lz4): fast, as Xet; zstd: smaller packs for about twice the CPU; off: raw, which saves CPU on a fast link.",
            DefaultValueFactory = _ => "auto",
        }.AcceptOnlyFromAmong("auto", "lz4", "zstd", "off");
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Hash DIR and ask the repository what it lacks, then stop: report what a push would send; nothing is sent or published." };
        var full = new Option<bool>("--full")
        {
            Description = "Ask the repository about every file, not only those changed since the version it has, and send what it lacks even if it already has this version (after 'repair' removed damaged files).",
        };
        var packSize = new Option<string>("--pack-size") { Description = "Close packs once they pass this size.", DefaultValueFactory = _ => "64MiB", Hidden = true };
        var command = new Command("push", "Snapshot DIR and publish it as a new version of a branch; only chunks the repository lacks are stored.\n\nExample:\n  merklesync push ./data file:///srv/repos/ds -m \"add March logs\"")
        {
            directory, remote, branch, message, rebase, compression, dryRun, full, packSize,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () =>
        {
            // Opening the remote can wait for RocksDB's binding (~0.5 s; tokens are in the state): scan meanwhile.
            var specialFiles = new List<string>();
            var scan = DirectoryScanner.ScanAsync(parse.GetValue(directory)!, ct, specialFiles);
            return CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, r => PushAsync(parse, r, scan, specialFiles, ct), ct, parse.GetValue(directory));
        }));
        return command;

        async Task<int> PushAsync(ParseResult parse, IRemote r, Task<List<ScannedFile>> scan, List<string> specialFiles, CancellationToken ct)
        {
            var progress = new OperationProgress();
            var options = new PushOptions(parse.GetValue(branch)!, parse.GetValue(message)!, PackSize: ByteSize.Parse(parse.GetValue(packSize)!), Rebase: parse.GetValue(rebase), Progress: progress, Scan: scan,
                Compression: parse.GetValue(compression) switch
                {
                    "off" => Compression.Off,
                    "zstd" => Compression.Zstd,
                    _ => ChunkCodec.DefaultCompression,
                }, DryRun: parse.GetValue(dryRun), Full: parse.GetValue(full));
            var result = await ProgressDisplay.RunAsync(parse, progress, () => r.WireBytes, () => PushOperation.PushAsync(parse.GetValue(directory)!, r, options, ct));
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["version"] = result.Root.ToString(),
                    ["record"] = result.DryRun ? null : result.VersionId.ToString(),
                    ["root"] = result.Root.ToString(),
                    ["published"] = result.Published,
                    ["dry_run"] = result.DryRun,
                    ["would_publish"] = result.DryRun ? result.WouldPublish : null,
                    ["files"] = result.Files,
                    ["bytes"] = result.Bytes,
                    ["bytes_scanned"] = result.BytesScanned,
                    ["new_chunk_bytes"] = result.NewChunkBytes,
                    ["bytes_written"] = result.BytesWritten,
                    ["chunks_total"] = result.ChunksTotal,
                    ["chunks_new"] = result.ChunksNew,
                    ["packs"] = result.Packs,
                    ["resumed_packs"] = result.ResumedPacks,
                    ["retries"] = result.Pacing.Retries,
                    ["throttled_retries"] = result.Pacing.Throttles,
                    ["backoffs"] = result.Pacing.Backoffs,
                    ["wire_bytes_sent"] = result.Wire.Sent,
                    ["wire_bytes_received"] = result.Wire.Received,
                    ["special_files_left_out"] = new JsonArray([.. specialFiles.Select(p => JsonValue.Create(p))]),
                    ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
                });
            }
            else if (!parse.GetValue(ProgressDisplay.Quiet))
            {
                PrintSummary(result, r.Url, parse.GetValue(branch)!);
            }

            Warnings.SpecialFilesLeftOut(specialFiles);
            return CliApp.Ok;
        }
    }

    private static void PrintSummary(PushResult result, string url, string branch)
    {
        if (result.DryRun && (result.WouldPublish || result.ChunksNew > 0))
        {
            Console.Out.WriteLine(result.WouldPublish
                ? $"Dry run: would push version {result.Root} to {url} branch '{branch}'; nothing was sent or published."
                : $"Dry run: would send what {url} lacks of version {result.Root} (branch '{branch}' already is that version); nothing was sent.");
            Console.Out.WriteLine($"  {result.Files} files, {Format.Bytes(result.Bytes)}; read {Format.Bytes(result.BytesScanned)} (the rest unchanged since last time)");
            Console.Out.WriteLine($"  {result.ChunksNew} of {result.ChunksTotal} chunks would be sent: {Format.Bytes(result.NewChunkBytes)} before compression");
            return;
        }

        if (!result.Published && result.ChunksNew == 0)
        {
            Console.Out.WriteLine($"Nothing to push: {url} branch '{branch}' already is version {result.Root}.");
            return;
        }

        Console.Out.WriteLine(result.Published
            ? $"Pushed version {result.Root} to {url} branch '{branch}'."
            : $"Sent what {url} lacked of version {result.Root} (branch '{branch}' already is that version).");

        Console.Out.WriteLine($"  {result.Files} files, {Format.Bytes(result.Bytes)}; read {Format.Bytes(result.BytesScanned)} (the rest unchanged since last time)");
        Console.Out.WriteLine($"  {result.ChunksNew} of {result.ChunksTotal} chunks new: {Format.Bytes(result.NewChunkBytes)}, stored as {Format.Bytes(result.BytesWritten)} in {result.Packs} pack(s)");
        Console.Out.WriteLine(result.Wire.Sent > 0
            ? $"  {result.Elapsed.TotalSeconds:F2} s; {Format.Bytes(result.Wire.Sent)} sent, {Format.Bytes(result.Wire.Received)} received over the network"
            : $"  {result.Elapsed.TotalSeconds:F2} s");
    }
}
