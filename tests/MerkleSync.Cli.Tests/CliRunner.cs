using System.Diagnostics;

namespace MerkleSync.Cli.Tests;

/// <summary>Runs the real merklesync executable (built beside the tests) as a separate process.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The build configuration of these tests (bin/&lt;configuration&gt;/net10.0/), which the CLI was built in too.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    public static string RepositoryRoot => MerkleSync.Testing.TestTools.RepositoryRoot;

    /// <summary>
    /// The CLI as its own project built it (same configuration as the tests): its deps file and
    /// folder are what a user runs, which a copy beside the tests (with ASP.NET assemblies
    /// deduplicated against the test's framework) is not. Declared after the two properties it
    /// uses: static initialisers run in textual order.
    /// </summary>
    private static readonly string CliPath = FindCli();

    /// <summary>The program and arguments that run merklesync with <paramref name="args"/>, for tests that start it through another program.</summary>
    public static string[] CommandLine(params string[] args) => ["dotnet", CliPath, .. args];

    private static string FindCli()
    {
        string path = Path.Combine(RepositoryRoot, "src", "MerkleSync.Cli", "bin", Configuration, "net10.0", "merklesync.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build src/MerkleSync.Cli first.", path);
    }

    public static Task<Result> RunAsync(params string[] args) => RunWithInputAsync(null, args);

    /// <summary>The JSON a successful run printed (a failed run fails the test with its stderr).</summary>
    public static System.Text.Json.JsonElement Json(Result result)
    {
        Assert.True(result.ExitCode == 0, result.Stderr);
        return System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement;
    }

    /// <summary>Runs merklesync with <paramref name="input"/> on its standard input (closed after).</summary>
    public static Task<Result> RunWithInputAsync(string? input, params string[] args) => RunProgramAsync(input, "dotnet", [CliPath, .. args]);

    /// <summary>Runs any program to its end (at most 3 minutes) and collects its output.</summary>
    public static async Task<Result> RunProgramAsync(string? input, string program, params string[] args)
    {
        using var process = StartProgram(program, args);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts merklesync without waiting (output is discarded), e.g. to kill it mid-way.</summary>
    public static Process Start(params string[] args) => StartProgram("dotnet", [CliPath, .. args]);

    private static Process StartProgram(string program, string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }
}
