using System.Diagnostics;
using System.Text.Json.Nodes;

namespace MerkleSync.Core.Tests.Chunking;

/// <summary>
/// Runs Hugging Face's chunker (tools/xet-vectors) again and checks it still produces the committed
/// vectors, so the vectors cannot drift from the oracle. Needs node and npm (installs on first run).
/// </summary>
public class OracleRegenerationTests
{
    [Fact]
    public async Task The_oracle_still_produces_the_committed_vectors()
    {
        string tools = Path.Combine(RepositoryRoot(), "tools", "xet-vectors");
        if (!Directory.Exists(Path.Combine(tools, "node_modules", "@huggingface", "xetchunk-wasm")))
        {
            await RunAsync("npm", "ci --no-audit --no-fund", tools);
        }

        string output = Path.Combine(Path.GetTempPath(), $"xet-vectors-{Guid.NewGuid():N}.json");
        try
        {
            await RunAsync("node", $"generate.mjs {output}", tools);

            var regenerated = JsonNode.Parse(await File.ReadAllTextAsync(output));
            var committed = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "TestVectors", "xetchunk-wasm.json")));
            Assert.True(JsonNode.DeepEquals(committed, regenerated), "tools/xet-vectors/generate.mjs output differs from the committed vectors");
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static async Task RunAsync(string program, string arguments, string directory)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{program} {arguments} failed: {await stderr}");
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MerkleSync.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("MerkleSync.sln not found above the test binaries.");
    }
}
