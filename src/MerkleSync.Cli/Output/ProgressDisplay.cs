using System.CommandLine;
using System.Diagnostics;
using MerkleSync.Core.Progress;
using Spectre.Console;

namespace MerkleSync.Cli.Output;

/// <summary>
/// Shows a push, pull, verification or repair as it runs, on standard error so standard output keeps only the result:
/// live bars with rate and ETA on a terminal, one plain line per step otherwise, nothing with
/// --quiet or --json. Rates and ETAs come from bytes really read or transferred, never from the
/// dataset size, so they stay honest when most of a dataset is unchanged or deduplicated.
/// </summary>
internal static class ProgressDisplay
{
    public static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "Print no progress and no summary; errors still go to standard error.", Recursive = true };

    public static async Task<T> RunAsync<T>(ParseResult parse, OperationProgress progress, Func<(long Sent, long Received)> wire, Func<Task<T>> operation)
    {
        if (parse.GetValue(Quiet) || parse.GetValue(CliApp.Json))
        {
            return await operation();
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        bool live = !Console.IsErrorRedirected && console.Profile.Capabilities.Interactive && Environment.GetEnvironmentVariable("TERM") != "dumb";
        return live ? await LiveAsync(console, progress, operation) : await PlainAsync(progress, wire, operation);
    }

    private static async Task<T> PlainAsync<T>(OperationProgress progress, Func<(long Sent, long Received)> wire, Func<Task<T>> operation)
    {
        var clock = Stopwatch.StartNew();
        void OnStage(Stage stage)
        {
            if (Describe(stage, progress, wire) is { } line)
            {
                Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s] {line}");
            }
        }

        progress.StageEntered += OnStage;
        try
        {
            return await operation();
        }
        finally
        {
            progress.StageEntered -= OnStage;
        }
    }

    private static async Task<T> LiveAsync<T>(IAnsiConsole console, OperationProgress progress, Func<Task<T>> operation)
    {
        return await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new TransferColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var run = operation();
                ProgressTask? current = null;
                var shown = Stage.Starting;
                while (true)
                {
                    var stage = progress.Stage;
                    if (current is not null)
                    {
                        Update(current, shown, progress);
                    }

                    if (stage != shown && stage is not (Stage.Done or Stage.Starting))
                    {
                        Finish(current);
                        current = context.AddTask(Title(stage), maxValue: 1);
                        shown = stage;
                        Update(current, shown, progress);
                    }

                    if (run.IsCompleted)
                    {
                        break;
                    }

                    await Task.WhenAny(run, Task.Delay(150));
                }

                if (run.IsCompletedSuccessfully)
                {
                    Finish(current);
                }
                else
                {
                    current?.StopTask();
                }

                return await run;
            });
    }

    private static void Update(ProgressTask task, Stage stage, OperationProgress progress)
    {
        (long done, long total) = stage switch
        {
            Stage.Hashing or Stage.Verifying => (progress.BytesRead, progress.BytesToRead),
            Stage.Uploading or Stage.Downloading => (progress.BytesTransferred, progress.BytesToTransfer),
            Stage.Repairing => (progress.ItemsDone, progress.ItemsToDo),
            _ => (0, 0),
        };
        task.State.Update<bool>(TransferColumn.HasBytes, _ => total > 0 && stage != Stage.Repairing);
        task.IsIndeterminate = total == 0;
        task.MaxValue = Math.Max(1, total);
        task.Value = Math.Min(done, task.MaxValue);
        if (stage is Stage.Uploading or Stage.Downloading)
        {
            task.Description = $"{Title(stage)} [grey]({Format.Bytes(progress.BytesDeduplicated)} deduped)[/]";
        }
        else if (stage is Stage.Repairing)
        {
            task.Description = $"{Title(stage)} [grey]({done} of {total} packs)[/]";
        }
        else if (stage is Stage.Verifying && total == 0 && done > 0)
        {
            task.Description = $"{Title(stage)} [grey]({Format.Bytes(done)} of packs read)[/]"; // over HTTP the total is not known in advance
        }
    }

    /// <summary>Bytes done of total, rate and time left: only for steps that move bytes.</summary>
    private sealed class TransferColumn : ProgressColumn
    {
        public const string HasBytes = "bytes";

        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (!task.State.Get<bool>(HasBytes) || task.IsIndeterminate)
            {
                return Text.Empty;
            }

            string rate = task.Speed is { } speed && speed > 0 ? $"{Format.Bytes((long)speed)}/s" : "";
            string left = task.IsFinished ? "" : task.RemainingTime is { } eta ? $"ETA {eta:hh\\:mm\\:ss}" : "";
            return new Text($"{Format.Bytes((long)task.Value)} / {Format.Bytes((long)task.MaxValue)}  {rate}  {left}".TrimEnd());
        }
    }

    private static void Finish(ProgressTask? task)
    {
        if (task is not null)
        {
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }

    private static string Title(Stage stage) => stage switch
    {
        Stage.Scanning => "Scan",
        Stage.Hashing => "Hash changes",
        Stage.Negotiating => "Negotiate",
        Stage.Uploading => "Upload",
        Stage.Publishing => "Publish",
        Stage.Planning => "Read tree",
        Stage.Downloading => "Write",
        Stage.Replacing => "Replace files",
        Stage.Verifying => "Verify",
        Stage.Repairing => "Repair",
        _ => stage.ToString(),
    };

    /// <summary>The plain line for a step, with the totals it will work through.</summary>
    private static string? Describe(Stage stage, OperationProgress progress, Func<(long Sent, long Received)> wire) => stage switch
    {
        Stage.Scanning => "scanning the directory",
        Stage.Negotiating => "asking the remote which files and chunks it lacks",
        Stage.Planning => "reading the version's tree",
        Stage.Replacing => "replacing files",
        Stage.Verifying => "checking tree nodes, file records and the packs to read",
        Stage.Repairing => $"checking {progress.ItemsToDo} pack(s) where they are stored",
        Stage.Hashing when progress.BytesToRead == 0 => null,
        Stage.Hashing => $"hashing {Format.Bytes(progress.BytesToRead)} of changed or new files ({progress.Files} files, {Format.Bytes(progress.Bytes)} in all)",
        Stage.Uploading => $"uploading {Format.Bytes(progress.BytesToTransfer)} of new chunks; {Format.Bytes(progress.BytesDeduplicated)} already there",
        Stage.Downloading => $"writing {Format.Bytes(progress.BytesToTransfer)} of files; {Format.Bytes(progress.BytesDeduplicated)} already in place",
        Stage.Publishing => $"publishing ({Format.Bytes(progress.BytesTransferred)} of chunks stored{(wire().Sent > 0 ? $", {Format.Bytes(wire().Sent)} sent" : "")})",
        _ => null,
    };
}
