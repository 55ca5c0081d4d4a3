using System.CommandLine;
using System.Runtime.InteropServices;
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

    /// <summary>Ctrl-C (SIGINT) or SIGTERM stopped the command: 128 + the signal number, as shells report it.</summary>
    public const int InterruptedBySigint = 130, InterruptedBySigterm = 143;

    // The exit code of the first SIGINT or SIGTERM, set before the command's token is cancelled.
    private static int s_signalExitCode;

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
            ForgetCommand.Create(),
            RepairCommand.Create(),
            ServeCommand.Create(),
            HashCommand.Create(),
            SnapshotCommand.Create(),
            DemoCommand.Create(),
            CompletionCommand.Create(),
        };
        HelpExamples.Install(root);

        // Signals cancel the command's token (System.CommandLine's own handling, which may cancel
        // before it is known which signal came, is off): the command stops where it is, keeps what
        // it did (a push resumes from there) and says so. A second signal ends the process at once.
        using var interrupt = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context, int exitCode)
        {
            context.Cancel = true;
            if (Interlocked.CompareExchange(ref s_signalExitCode, exitCode, 0) != 0)
            {
                Environment.Exit(Volatile.Read(ref s_signalExitCode));
            }

            interrupt.Cancel();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnSignal(context, InterruptedBySigint));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnSignal(context, InterruptedBySigterm));
        var parse = root.Parse(args);
        int code = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupt.Token).ConfigureAwait(false);
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
        catch (OperationCanceledException e) when (Volatile.Read(ref s_signalExitCode) != 0)
        {
            // What the command did so far stays as a kill would leave it: a push resumes its
            // half-sent packs and has published nothing; a pull leaves no half-written file.
            await Console.Error.WriteLineAsync("merklesync: interrupted; run the command again to go on.").ConfigureAwait(false);
            if (parse.GetValue(Verbose))
            {
                await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }

            return Volatile.Read(ref s_signalExitCode);
        }
        catch (Exception caught)
        {
            // Work split with Parallel.For fails with its one cause wrapped.
            var e = caught is AggregateException { InnerExceptions.Count: 1 } wrapped ? wrapped.InnerExceptions[0] : caught;
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
                OperationCanceledException => $"stopped before it finished ({e.Message})",
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
