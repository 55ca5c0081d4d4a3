using System.Diagnostics;
using System.Text.Json.Nodes;
using MerkleSync.Testing;

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
        string tools = await TestTools.NpmToolAsync("xet-vectors", Path.Combine("node_modules", "@huggingface", "xetchunk-wasm", "package.json"));

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
}
