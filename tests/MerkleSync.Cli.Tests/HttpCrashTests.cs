using System.Text.Json;
using MerkleSync.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace MerkleSync.Cli.Tests;

/// <summary>HTTP pushes killed with SIGKILL: the server stays consistent and a re-run finishes half-sent packs from their offset.</summary>
public class HttpCrashTests
{
    [Fact]
    public async Task A_killed_http_push_resumes_and_the_result_verifies()
    {
        using var dir = new TempDirectory();
        await using var app = ServerApp.Build(new ServerSettings(Path.Combine(dir.Path, "server"), ["http://127.0.0.1:0"], null));
        await app.StartAsync();
        string baseUrl = ServerApp.BaseUrl(app);
        string remote = $"{baseUrl}/ds";
        string data = Path.Combine(dir.Path, "data");
        var random = new Random(21);
        for (int i = 0; i < 12; i++)
        {
            byte[] content = new byte[3_000_000];
            random.NextBytes(content);
            dir.Write($"data/part-{i:D2}.bin", content);
        }

        var init = await CliRunner.RunAsync("init", remote);
        Assert.True(init.ExitCode == 0, init.Stdout + init.Stderr);
        foreach (int delayMs in new[] { 500, 900 })
        {
            using var push = CliRunner.Start("push", data, remote, "--pack-size", "2MiB");
            await Task.Delay(delayMs);
            if (!push.HasExited)
            {
                push.Kill(entireProcessTree: true);
            }

            await push.WaitForExitAsync();
        }

        var final = await CliRunner.RunAsync("push", data, remote, "--pack-size", "2MiB", "--json");
        Assert.True(final.ExitCode == 0, final.Stderr);
        var result = JsonDocument.Parse(final.Stdout).RootElement;
        Assert.True(result.GetProperty("resumed_packs").GetInt32() >= 0);
        using (var state = MerkleSync.Core.ClientState.ClientStateStore.Open(data))
        {
            Assert.Empty(state.List()); // every upload finished or given up
        }

        var verify = await CliRunner.RunAsync("verify", remote, "--read-data", "--json");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        string copy = Path.Combine(dir.Path, "copy");
        Assert.Equal(0, (await CliRunner.RunAsync("pull", remote, copy)).ExitCode);
        foreach (string file in Directory.EnumerateFiles(data))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(copy, Path.GetFileName(file))));
        }

        await app.StopAsync();
    }
}
