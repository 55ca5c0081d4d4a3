using System.Text.Json;

namespace MerkleSync.Cli.Tests;

/// <summary>Pushes killed with SIGKILL at varying moments: the repository stays consistent and a re-run finishes the job.</summary>
public class CrashTests
{
    [Fact]
    public async Task A_push_killed_at_any_moment_leaves_a_verifiable_repository_and_a_rerun_resumes()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        string data = Path.Combine(dir.Path, "data");
        var random = new Random(11);
        for (int i = 0; i < 12; i++)
        {
            byte[] content = new byte[3_000_000];
            random.NextBytes(content);
            dir.Write($"data/part-{i:D2}.bin", content);
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        foreach (int delayMs in new[] { 300, 600, 1000, 1600 })
        {
            using (var push = CliRunner.Start("push", data, repo, "--pack-size", "2MiB"))
            {
                await Task.Delay(delayMs);
                if (!push.HasExited)
                {
                    push.Kill(entireProcessTree: true); // SIGKILL on Unix: no cleanup runs
                }

                await push.WaitForExitAsync();
            }

            var verify = await CliRunner.RunAsync("verify", repo, "--read-data", "--json");
            Assert.True(verify.ExitCode == 0, $"after a kill at {delayMs} ms: {verify.Stdout}{verify.Stderr}");
        }

        bool packsSurvived = Directory.Exists(Path.Combine(dir.Path, "repo", "packs"))
            && Directory.EnumerateFiles(Path.Combine(dir.Path, "repo", "packs"), "*.pack", SearchOption.AllDirectories).Any();
        var final = await CliRunner.RunAsync("push", data, repo, "--pack-size", "2MiB", "--json");
        Assert.True(final.ExitCode == 0, final.Stderr);
        var result = JsonDocument.Parse(final.Stdout).RootElement;
        if (packsSurvived && result.GetProperty("published").GetBoolean())
        {
            // Packs stored before a kill are not sent again.
            Assert.True(result.GetProperty("chunks_new").GetInt64() < result.GetProperty("chunks_total").GetInt64());
        }

        string copy = Path.Combine(dir.Path, "copy");
        Assert.Equal(0, (await CliRunner.RunAsync("pull", repo, copy)).ExitCode);
        foreach (string file in Directory.EnumerateFiles(data))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(copy, Path.GetFileName(file))));
        }

        Assert.Equal(0, (await CliRunner.RunAsync("verify", repo, "--read-data")).ExitCode);
    }
}
