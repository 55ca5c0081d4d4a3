using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Progress;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

internal static class PullCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var directory = new Argument<string>("DIR") { Description = "Where to write the version (created if missing)." };
        var branch = CommonOptions.Branch();
        var version = new Option<string?>("--version") { Description = "A version (root hash, record id or prefix) or tag instead of the branch head." };
        var paths = new Option<string[]>("--path") { Description = "Only files at or under this path (repeatable).", AllowMultipleArgumentsPerToken = true };
        var delete = new Option<bool>("--delete") { Description = "Also delete local files that are not in the version (within --path)." };
        var force = new Option<bool>("--force") { Description = "Overwrite or delete local files even if they changed since the last push or pull." };
        var sparse = new Option<bool>("--sparse") { Description = "Leave chunks of zeros in large files unwritten, as holes: a sparse disk image takes only the space of its data." };
        var command = new Command("pull", "Write a version into DIR: unchanged files are skipped, local chunks reused, everything verified, files replaced atomically.\n\nExample:\n  merklesync pull file:///srv/repos/ds ./data --delete")
        {
            remote, directory, branch, version, paths, delete, force, sparse,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            if (parse.GetValue(version) is not null && parse.GetResult(branch) is { Implicit: false })
            {
                throw new InvalidInputException("--branch and --version each name what to pull; give one of them.");
            }

            var progress = new OperationProgress();
            var options = new PullOptions(parse.GetValue(version), parse.GetValue(branch)!, parse.GetValue(paths), parse.GetValue(delete), parse.GetValue(force), progress, parse.GetValue(sparse));
            var result = await ProgressDisplay.RunAsync(parse, progress, () => r.WireBytes, () => PullOperation.PullAsync(r, parse.GetValue(directory)!, options, ct));
            if (parse.GetValue(CliApp.Json))
            {
                JsonOut.Write(new JsonObject
                {
                    ["version"] = result.Root.ToString(),
                    ["record"] = result.VersionId.ToString(),
                    ["files_written"] = result.FilesWritten,
                    ["files_unchanged"] = result.FilesUnchanged,
                    ["files_deleted"] = result.FilesDeleted,
                    ["state_files_skipped"] = result.StateEntriesSkipped,
                    ["bytes_written"] = result.BytesWritten,
                    ["bytes_reused"] = result.BytesReused,
                    ["chunk_bytes_fetched"] = result.ChunkBytesFetched,
                    ["pack_bytes_read"] = result.PackBytesRead,
                    ["wire_bytes_sent"] = result.Wire.Sent,
                    ["wire_bytes_received"] = result.Wire.Received,
                    ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
                });
            }
            else if (!parse.GetValue(ProgressDisplay.Quiet))
            {
                Console.Out.WriteLine($"Pulled version {result.Root}: {result.FilesWritten} files written, {result.FilesUnchanged} unchanged, {result.FilesDeleted} deleted.");
                Console.Out.WriteLine($"  {Format.Bytes(result.BytesWritten)} written: {Format.Bytes(result.BytesReused)} from local chunks, {Format.Bytes(result.ChunkBytesFetched)} fetched ({Format.Bytes(result.PackBytesRead)} read from packs), {result.Elapsed.TotalSeconds:F2} s");
            }

            if (result.StateEntriesSkipped > 0)
            {
                Console.Error.WriteLine($"warning: {result.StateEntriesSkipped} file(s) of the version lie in a '{DatasetPath.StateFolderName}' folder, a client's state, and were not written.");
            }

            return CliApp.Ok;
        }, ct, parse.GetValue(directory))));
        return command;
    }
}
