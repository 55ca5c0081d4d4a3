using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Cli.Commands;

/// <summary><c>merklesync hash PATH...</c>: Xet file hashes, printed like b3sum.</summary>
internal static class HashCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore, Description = "Files or directories (directories are walked)." };
        var command = new Command("hash", "Print the Xet file hash of each file, like b3sum: '<hash>  <path>'.\n\nExample:\n  merklesync hash model.safetensors data/")
        {
            paths,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => RunAsync(parse.GetValue(paths)!, parse.GetValue(CliApp.Json), ct)));
        return command;
    }

    private static async Task<int> RunAsync(string[] paths, bool json, CancellationToken cancellationToken)
    {
        var files = new List<ScannedFile>();
        foreach (string path in paths)
        {
            files.AddRange(Expand(path));
        }

        var hashed = await Snapshotter.HashFilesAsync(files, cancellationToken);
        if (json)
        {
            JsonOut.Write(new JsonArray([.. hashed.Select(f => new JsonObject
            {
                ["path"] = f.Entry.Path,
                ["hash"] = f.Entry.FileHash.ToString(),
                ["size"] = f.Entry.Size,
                ["chunks"] = f.Content.Chunks.Length,
            })]));
        }
        else
        {
            foreach (var file in hashed)
            {
                Console.Out.WriteLine($"{file.Entry.FileHash}  {Format.Path(file.Entry.Path)}");
            }
        }

        return CliApp.Ok;
    }

    // A file is named as given; a directory's files as "DIR/relative/path".
    private static IEnumerable<ScannedFile> Expand(string path)
    {
        if (Directory.Exists(path))
        {
            string prefix = path.TrimEnd('/');
            return DirectoryScanner.Scan(path).Select(f => f with { Path = $"{prefix}/{f.Path}" });
        }

        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new InvalidInputException($"'{path}' does not exist.");
        }

        var mode = info.LinkTarget is not null ? EntryMode.Symlink : EntryMode.Regular;
        return [new ScannedFile(path, info.FullName, mode, info.Length)];
    }
}
