using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Ingest;

namespace MerkleSync.Cli.Commands;

/// <summary><c>merklesync hash PATH...</c>: Xet file hashes, printed like b3sum.</summary>
internal static class HashCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore, Description = "Files or directories (directories are walked; a symlink named here is followed). '-' reads standard input." };
        var command = new Command("hash", "Print the Xet file hash of each file, like b3sum: '<hash>  <path>'.\n\nExamples:\n  merklesync hash model.safetensors data/\n  curl -s https://example.org/big.bin | merklesync hash -")
        {
            paths,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => RunAsync(parse.GetValue(paths)!, parse.GetValue(CliApp.Json), ct)));
        return command;
    }

    private static async Task<int> RunAsync(string[] paths, bool json, CancellationToken cancellationToken)
    {
        // Files, and the files of walked directories, are hashed together on all cores; a stream
        // (a pipe, a device, '-' for standard input) is read once, in its turn.
        var hashed = new List<(string Path, ChunkedContent Content)>();
        var files = new List<ScannedFile>();
        foreach (string path in paths)
        {
            if (path != "-" && Directory.Exists(path))
            {
                string prefix = path.TrimEnd('/');
                files.AddRange(DirectoryScanner.Scan(path).Select(f => f with { Path = $"{prefix}/{f.Path}" }));
            }
            else if (path != "-" && DirectoryScanner.ScanNamedFile(path) is { } file)
            {
                files.Add(file);
            }
            else
            {
                await HashFilesAsync();
                await using var stream = path == "-" ? Console.OpenStandardInput() : Snapshotter.OpenForRead(path);
                hashed.Add((path, await ContentHasher.HashAsync(stream, cancellationToken, hashThreads: Environment.ProcessorCount)));
            }
        }

        await HashFilesAsync();
        if (json)
        {
            JsonOut.Write(new JsonArray([.. hashed.Select(f => new JsonObject
            {
                ["path"] = f.Path,
                ["hash"] = f.Content.FileHash.ToString(),
                ["size"] = f.Content.Length,
                ["chunks"] = f.Content.Chunks.Length,
            })]));
        }
        else
        {
            foreach (var (path, content) in hashed)
            {
                Console.Out.WriteLine($"{content.FileHash}  {Format.Path(path)}");
            }
        }

        return CliApp.Ok;

        async Task HashFilesAsync()
        {
            hashed.AddRange((await Snapshotter.HashFilesAsync(files, cancellationToken)).Select(f => (f.Entry.Path, f.Content)));
            files.Clear();
        }
    }
}
