using System.CommandLine;
using MerkleSync.Cli.Commands;
using MerkleSync.Core.Errors;

namespace MerkleSync.Cli;

/// <summary>The command tree and the mapping from errors to exit codes (documented in README).</summary>
internal static class CliApp
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;
    public const int VerificationFailed = 3;
    public const int Conflict = 4;

    public static readonly Option<bool> Json = new("--json") { Description = "Print machine-readable JSON instead of text.", Recursive = true };
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors.", Recursive = true };

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("MerkleSync: version and sync large datasets with content-defined chunking and Merkle trees (Xet-compatible hashes).")
        {
            Json,
            Verbose,
            Output.ProgressDisplay.Quiet,
            InitCommand.Create(),
            RemoteCommand.Create(),
            PushCommand.Create(),
            PullCommand.Create(),
            StatusCommand.Create(),
            DiffCommand.Create(),
            LogCommand.Create(),
            BrowseCommands.Show(),
            BrowseCommands.List(),
            BrowseCommands.Cat(),
            VerifyCommand.Create(),
            StatsCommand.Create(),
            TagCommand.Create(),
            BranchCommand.Create(),
            GcCommand.Create(),
            ServeCommand.Create(),
            HashCommand.Create(),
            SnapshotCommand.Create(),
            DemoCommand.Create(),
            CompletionCommand.Create(),
        };
        HelpExamples.Install(root);

        var parse = root.Parse(args);
        int code = await parse.InvokeAsync().ConfigureAwait(false);
        // System.CommandLine exits 1 on a parse error (not on --help with one); usage errors are 2 here.
        return parse.Action is System.CommandLine.Invocation.ParseErrorAction ? Usage : code;
    }

    /// <summary>Runs a command body, turning known errors into a one-line message and an exit code.</summary>
    public static async Task<int> GuardAsync(ParseResult parse, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            int code = e switch
            {
                InvalidInputException => Usage,
                CorruptDataException => VerificationFailed,
                ConflictException => Conflict,
                _ => Error,
            };
            string message = e switch
            {
                MerkleSyncException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException => e.Message,
                HttpRequestException http => $"cannot reach the server: {http.Message}{(http.InnerException is { } inner ? $" ({inner.Message})" : "")}",
                _ => $"unexpected {e.GetType().Name}: {e.Message}",
            };
            await Console.Error.WriteLineAsync($"merklesync: error: {message}").ConfigureAwait(false);
            if (parse.GetValue(Verbose))
            {
                await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }

            return code;
        }
    }
}
