namespace MerkleSync.Cli.Tests;

/// <summary>The CLI ships as a .NET tool: pack the build the other tests use, install it, run it.</summary>
public class ToolPackageTests
{
    [Fact]
    public async Task Dotnet_pack_makes_a_tool_that_installs_and_reports_its_version()
    {
        using var dir = new TempDirectory();
        string feed = Path.Combine(dir.Path, "feed"), tools = Path.Combine(dir.Path, "tools");
        // --no-build: the other tests run this very build, so it must not be rebuilt underneath them.
        await RunAsync("dotnet", "pack", Path.Combine(CliRunner.RepositoryRoot, "src", "MerkleSync.Cli"), "-c", CliRunner.Configuration, "--no-build", "-o", feed);
        Assert.Single(Directory.EnumerateFiles(feed, "MerkleSync.Cli.*.nupkg"));

        await RunAsync("dotnet", "tool", "install", "--tool-path", tools, "MerkleSync.Cli", "--add-source", feed);
        string version = await RunAsync(Path.Combine(tools, "merklesync"), "--version");
        Assert.StartsWith("0.1.0", version, StringComparison.Ordinal);
        Assert.Contains("Xet file hash", await RunAsync(Path.Combine(tools, "merklesync"), "hash", "--help"), StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var result = await CliRunner.RunProgramAsync(null, program, args);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', args)}: {result.Stdout}{result.Stderr}");
        return result.Stdout;
    }
}
