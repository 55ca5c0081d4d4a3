using System.Diagnostics;
using System.Text.Json;

namespace MerkleSync.Cli.Tests;

/// <summary>A server whose disk fills up mid-push, on a real full file system: a small tmpfs in a private mount namespace.</summary>
public class OutOfSpaceTests
{
    // Runs in the namespace: mounts the tmpfs, fills most of it with ballast, starts the server,
    // and removes the ballast once the test creates the flag file (bounded: 2 minutes).
    private const string Script = """
        set -e
        mnt="$1"; flag="$2"; shift 2
        mount -t tmpfs -o size=64m merklesync-test "$mnt"
        head -c 25165824 /dev/zero > "$mnt/ballast"
        "$@" &
        i=0
        while [ ! -e "$flag" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
        rm -f "$mnt/ballast"
        echo "ballast removed"
        wait
        """;

    [Fact]
    public async Task A_full_server_disk_fails_the_push_at_once_with_507_and_the_push_resumes_once_space_is_freed()
    {
        using var dir = new TempDirectory();
        string mount = Directory.CreateDirectory(Path.Combine(dir.Path, "mnt")).FullName;
        string flag = Path.Combine(dir.Path, "free-space");
        string data = WriteData(dir, seed: 5);

        var start = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])["--user", "--map-root-user", "--mount", "sh", "-c", Script, "sh", mount, flag,
            .. CliRunner.CommandLine("serve", "--root", Path.Combine(mount, "srv"), "--listen", "http://127.0.0.1:0")])
        {
            start.ArgumentList.Add(arg);
        }

        using var server = new ServerOutput(Process.Start(start)!);
        try
        {
            string listening = await server.WaitForLineAsync("Now listening on: ", " (it needs 'unshare --user --map-root-user --mount' to be allowed)");
            string remote = listening[(listening.IndexOf("http", StringComparison.Ordinal))..].Trim() + "/ds";
            var init = await CliRunner.RunAsync("init", remote);
            Assert.True(init.ExitCode == 0, init.Stderr);

            // 24 MB of packs into the ~19 MB the database and ballast leave.
            var full = await CliRunner.RunAsync("push", data, remote, "--pack-size", "4MiB");
            Assert.True(full.ExitCode == 1, $"exit {full.ExitCode}: {full.Stderr}");
            Assert.Contains("server answered 507: the server is out of storage space", full.Stderr, StringComparison.Ordinal);
            // Each upload lane stops at its first 507: a full disk is not retried.
            Assert.InRange(server.Lines.Count(l => l.Contains("status=507", StringComparison.Ordinal)), 1, 4);
            var log = await CliRunner.RunAsync("log", remote);
            Assert.Contains("has no versions yet", log.Stderr, StringComparison.Ordinal); // nothing published

            await File.WriteAllTextAsync(flag, "");
            await server.WaitForLineAsync("ballast removed");
            var retry = await CliRunner.RunAsync("push", data, remote, "--pack-size", "4MiB", "--json");
            Assert.True(retry.ExitCode == 0, retry.Stderr);
            var result = JsonDocument.Parse(retry.Stdout).RootElement;
            Assert.True(result.GetProperty("resumed_packs").GetInt32() > 0, retry.Stdout); // the bytes stored before the disk filled were kept
            var verify = await CliRunner.RunAsync("verify", remote, "--read-data");
            Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
            string copy = Path.Combine(dir.Path, "copy");
            Assert.Equal(0, (await CliRunner.RunAsync("pull", remote, copy)).ExitCode);
            foreach (string file in Directory.EnumerateFiles(data))
            {
                Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(copy, Path.GetFileName(file))));
            }
        }
        finally
        {
            await server.StopAsync();
        }
    }

    [Fact]
    public async Task A_full_disk_under_a_file_repository_fails_the_push_with_the_cause_and_leaves_nothing_half_stored()
    {
        using var dir = new TempDirectory();
        string mount = Directory.CreateDirectory(Path.Combine(dir.Path, "mnt")).FullName;
        string data = WriteData(dir, seed: 6);

        // Every step runs inside the namespace, where the tmpfs is visible; each prints its exit code.
        string cli = string.Join(' ', CliRunner.CommandLine().Select(a => $"'{a}'"));
        string script = $"""
            mnt="$1"; data="$2"; repo="file://$mnt/repo"
            mount -t tmpfs -o size=16m merklesync-test "$mnt" || exit 90
            {cli} init "$repo" > /dev/null; echo "init=$?"
            {cli} push "$data" "$repo" --quiet; echo "full=$?"
            echo "leftover=$(find "$mnt/repo/tmp" "$mnt/repo/packs" -type f 2>/dev/null | wc -l)"
            {cli} verify "$repo" > /dev/null; echo "verify=$?"
            mount -o remount,size=64m "$mnt"
            {cli} push "$data" "$repo" --quiet; echo "freed=$?"
            {cli} verify "$repo" --read-data > /dev/null; echo "verified=$?"
            """;
        var run = await CliRunner.RunProgramAsync(null, "unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mount, data);
        Assert.True(run.ExitCode == 0, $"needs 'unshare --user --map-root-user --mount' (exit {run.ExitCode}): {run.Stdout}{run.Stderr}");
        string[] expected = ["init=0", "full=1", "leftover=0", "verify=0", "freed=0", "verified=0"];
        Assert.Equal(expected, run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("No space left on device", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pull_that_cannot_fit_is_refused_before_it_downloads_and_one_that_fills_the_disk_says_so_and_places_nothing()
    {
        using var dir = new TempDirectory();
        string mount = Directory.CreateDirectory(Path.Combine(dir.Path, "mnt")).FullName;
        string data = WriteData(dir, seed: 7);
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo, "--quiet")).ExitCode);

        // 24 MB of files onto a 16 MiB disk: refused up front; with --sparse (no up-front count,
        // as holes take no space) it fills the disk. Neither places a file or leaves a staged one,
        // nor the folder each created.
        string cli = string.Join(' ', CliRunner.CommandLine().Select(a => $"'{a}'"));
        string files = "placed=$(find \"$out\" -name 'part-*' 2>/dev/null | wc -l) staged=$(find \"$out/.merklesync/tmp\" -type f 2>/dev/null | wc -l) folder=$([ -e \"$out\" ] && echo kept || echo gone)";
        string script = $"""
            mnt="$1"; repo="$2"; data="$3"; out="$mnt/out"
            mount -t tmpfs -o size=16m merklesync-test "$mnt" || exit 90
            {cli} pull "$repo" "$out" --quiet; echo "refused=$?"
            echo "{files}"
            {cli} pull "$repo" "$out" --quiet --sparse; echo "filled=$?"
            echo "{files}"
            mount -o remount,size=64m "$mnt"
            {cli} pull "$repo" "$out" --quiet; echo "freed=$?"
            echo "{files}"
            same=0; for f in "$data"/*; do cmp -s "$f" "$out/$(basename "$f")" && same=$((same+1)); done; echo "same=$same"
            """;
        var run = await CliRunner.RunProgramAsync(null, "unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mount, repo, data);
        Assert.True(run.ExitCode == 0, $"needs 'unshare --user --map-root-user --mount' (exit {run.ExitCode}): {run.Stdout}{run.Stderr}");
        string[] expected = ["refused=1", "placed=0 staged=0 folder=gone", "filled=1", "placed=0 staged=0 folder=gone", "freed=0", "placed=6 staged=0 folder=kept", "same=6"];
        Assert.Equal(expected, run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("The pull writes 6 files of 22.9 MiB, and the file system holding", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was downloaded or changed", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("is full (No space left on device", run.Stderr, StringComparison.Ordinal);
    }

    /// <summary>24 MB of random bytes in six files under data/.</summary>
    private static string WriteData(TempDirectory dir, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 6; i++)
        {
            byte[] content = new byte[4_000_000];
            random.NextBytes(content);
            dir.Write($"data/part-{i}.bin", content);
        }

        return Path.Combine(dir.Path, "data");
    }
}
