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

    [Fact]
    public async Task A_pull_stopped_by_one_file_places_the_others_and_is_resumed_without_downloading_them_again()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        string data = Path.Combine(dir.Path, "data"), copy = Path.Combine(dir.Path, "copy");
        var random = new Random(12);
        for (int i = 0; i < 4; i++)
        {
            byte[] content = new byte[6_000_000]; // above the pull's small-file size: staged one by one
            random.NextBytes(content);
            dir.Write($"data/large-{i}.bin", content);
        }

        dir.Write("data/a.txt", "first in path order"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);

        // A folder where the version has a file, holding what no scan lists (another dataset's
        // state), stops the pull once every file is staged and verified; the files placed beside
        // it stay placed, with the version's content.
        dir.Write("copy/a.txt/.merklesync/mine.txt", "mine"u8.ToArray());
        var failed = await CliRunner.RunAsync("pull", repo, copy);
        Assert.Equal(2, failed.ExitCode);
        Assert.Contains("is a folder here but a file in the version", failed.Stderr, StringComparison.Ordinal);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(data, $"large-{i}.bin")), File.ReadAllBytes(Path.Combine(copy, $"large-{i}.bin")));
        }

        Directory.Delete(Path.Combine(copy, "a.txt"), recursive: true);
        var resumed = JsonDocument.Parse((await CliRunner.RunAsync("pull", repo, copy, "--json")).Stdout).RootElement;

        Assert.Equal(4, resumed.GetProperty("files_unchanged").GetInt32());
        Assert.Equal("first in path order"u8.Length, resumed.GetProperty("chunk_bytes_fetched").GetInt64());
        foreach (string file in Directory.EnumerateFiles(data))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(copy, Path.GetFileName(file))));
        }

        string staging = Path.Combine(copy, ".merklesync", "tmp");
        Assert.Empty(Directory.EnumerateFiles(staging));
    }
}
