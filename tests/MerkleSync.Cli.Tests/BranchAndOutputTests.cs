using System.Text.Json;
using MerkleSync.Server.Hosting;

namespace MerkleSync.Cli.Tests;

public class BranchAndOutputTests
{
    [Fact]
    public async Task Branches_are_created_listed_pushed_to_and_deleted_by_compare_and_swap()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        dir.Write("data/a.txt", "first\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        var first = JsonDocument.Parse((await CliRunner.RunAsync("push", data, repo, "--json")).Stdout).RootElement;

        var created = await CliRunner.RunAsync("branch", repo, "experiment", "main", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        var createdJson = JsonDocument.Parse(created.Stdout).RootElement;
        Assert.Equal("created", createdJson.GetProperty("action").GetString());
        Assert.Equal(first.GetProperty("version").GetString(), createdJson.GetProperty("version").GetString());

        var again = await CliRunner.RunAsync("branch", repo, "experiment");
        Assert.Equal(4, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);

        // A push to the new branch starts from the version it was created at.
        dir.Write("data/b.txt", "second\n"u8.ToArray());
        var pushed = await CliRunner.RunAsync("push", data, repo, "--branch", "experiment", "--json");
        Assert.True(pushed.ExitCode == 0, pushed.Stderr);
        var log = JsonDocument.Parse((await CliRunner.RunAsync("log", repo, "--branch", "experiment", "--json")).Stdout).RootElement;
        Assert.Equal(first.GetProperty("record").GetString(), log[0].GetProperty("parent").GetString());

        // verify VERSION proves the data and prints the provenance chain back to the first version.
        string version = JsonDocument.Parse(pushed.Stdout).RootElement.GetProperty("version").GetString()!;
        var verify = await CliRunner.RunAsync("verify", repo, version, "--read-data", "--json");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        var chain = JsonDocument.Parse(verify.Stdout).RootElement.GetProperty("provenance");
        Assert.Equal(2, chain.GetArrayLength());
        Assert.Equal(first.GetProperty("record").GetString(), chain[1].GetProperty("record").GetString());
        Assert.Equal(JsonValueKind.Null, chain[1].GetProperty("parent").ValueKind);
        Assert.Contains("Provenance of version", (await CliRunner.RunAsync("verify", repo, "experiment")).Stdout, StringComparison.Ordinal);

        var list = JsonDocument.Parse((await CliRunner.RunAsync("branch", repo, "--json")).Stdout).RootElement;
        Assert.Equal(["experiment", "main"], list.EnumerateArray().Select(b => b.GetProperty("branch").GetString()).Order(StringComparer.Ordinal));

        var moved = await CliRunner.RunAsync("branch", repo, "main", "experiment", "--force");
        Assert.True(moved.ExitCode == 0, moved.Stderr);
        Assert.Contains("Moved branch 'main'", moved.Stdout, StringComparison.Ordinal);

        var deleted = await CliRunner.RunAsync("branch", repo, "experiment", "--delete");
        Assert.True(deleted.ExitCode == 0, deleted.Stderr);
        Assert.Contains("Deleted branch 'experiment'", deleted.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await CliRunner.RunAsync("branch", repo, "experiment", "--delete")).ExitCode);

        // Listed as left, newest first (main, moved above, left the first version).
        var left = JsonDocument.Parse((await CliRunner.RunAsync("branch", repo, "--dropped", "--json")).Stdout).RootElement;
        Assert.Equal(["experiment", "main"], left.EnumerateArray().Select(d => d.GetProperty("branch").GetString()));
        Assert.Equal(first.GetProperty("record").GetString(), left[1].GetProperty("record").GetString());
        Assert.Contains("branch experiment left record", (await CliRunner.RunAsync("branch", repo, "--dropped")).Stdout, StringComparison.Ordinal);

        // The command the deletion printed brings the branch back.
        string[] restore = deleted.Stdout.Split('`')[1].Split(' ');
        Assert.Equal("merklesync", restore[0]);
        var restored = await CliRunner.RunAsync(restore[1..]);
        Assert.True(restored.ExitCode == 0, restored.Stderr);
        Assert.Equal(first.GetProperty("record").GetString(), JsonDocument.Parse((await CliRunner.RunAsync("log", repo, "--branch", "experiment", "--json")).Stdout).RootElement[1].GetProperty("record").GetString());
        Assert.Equal(2, (await CliRunner.RunAsync("branch", repo, "bad name!")).ExitCode);
    }

    [Fact]
    public async Task Tags_move_only_with_force_and_are_listed_and_deleted_over_http()
    {
        using var dir = new TempDirectory();
        await using var app = ServerApp.Build(new ServerSettings(Path.Combine(dir.Path, "server"), ["http://127.0.0.1:0"], null, Quiet: true));
        await app.StartAsync();
        string repo = $"{ServerApp.BaseUrl(app)}/ds", data = Path.Combine(dir.Path, "data");
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        dir.Write("data/a.txt", "first\n"u8.ToArray());
        string v1 = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--json")).GetProperty("version").GetString()!;
        dir.Write("data/a.txt", "second\n"u8.ToArray());
        string v2 = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--json")).GetProperty("version").GetString()!;
        async Task<string> ShownAsync(string spec) => CliRunner.Json(await CliRunner.RunAsync("show", spec, "-r", repo, "--json")).GetProperty("version").GetString()!;

        Assert.Equal(v1, await ShownAsync("main^")); // '^' travels percent-encoded
        Assert.Equal(v1, await ShownAsync("main~1"));

        var created = CliRunner.Json(await CliRunner.RunAsync("tag", repo, "rel", v1[..12], "--json"));
        Assert.Equal(("rel", "created", v1), (created.GetProperty("tag").GetString(), created.GetProperty("action").GetString(), created.GetProperty("version").GetString()));
        Assert.Contains("already names", (await CliRunner.RunAsync("tag", repo, "rel", v1)).Stdout, StringComparison.Ordinal);

        var refused = await CliRunner.RunAsync("tag", repo, "rel", "main");
        Assert.Equal(4, refused.ExitCode);
        Assert.Contains($"Tag 'rel' already names version {v1}; use --force", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(v1, await ShownAsync("rel"));

        var moved = CliRunner.Json(await CliRunner.RunAsync("tag", repo, "rel", "main", "--force", "--json"));
        Assert.Equal("moved", moved.GetProperty("action").GetString());
        Assert.Equal(v2, await ShownAsync("rel"));

        Assert.Equal(0, (await CliRunner.RunAsync("tag", repo, "first", v1)).ExitCode);
        var list = CliRunner.Json(await CliRunner.RunAsync("tag", repo, "--json"));
        Assert.Equal(["first " + v1, "rel " + v2], list.EnumerateArray().Select(t => $"{t.GetProperty("tag").GetString()} {t.GetProperty("version").GetString()}"));

        Assert.Contains($"Deleted tag 'rel' (was version {v2})", (await CliRunner.RunAsync("tag", repo, "rel", "--delete")).Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await CliRunner.RunAsync("tag", repo, "rel", "--delete")).ExitCode);
        Assert.Equal(1, (await CliRunner.RunAsync("show", "rel", "-r", repo)).ExitCode);
        Assert.Equal(2, (await CliRunner.RunAsync("tag", repo, "bad name!")).ExitCode);
        Assert.DoesNotContain("rel", (await CliRunner.RunAsync("tag", repo)).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_goes_to_stderr_one_line_per_step_and_quiet_prints_nothing()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        byte[] big = new byte[500_000];
        new Random(5).NextBytes(big);
        dir.Write("data/big.bin", big);
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);

        var push = await CliRunner.RunAsync("push", data, repo);
        Assert.True(push.ExitCode == 0, push.Stderr);
        Assert.Contains("hashing 488.3 KiB of changed or new files", push.Stderr, StringComparison.Ordinal);
        Assert.Contains("uploading 488.3 KiB of new chunks; 0 B already there", push.Stderr, StringComparison.Ordinal);
        Assert.Contains("publishing", push.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Pushed version", push.Stdout, StringComparison.Ordinal);

        var verify = await CliRunner.RunAsync("verify", repo, "--read-data");
        Assert.True(verify.ExitCode == 0, verify.Stderr);
        Assert.Contains("checking tree nodes, file records and the packs to read", verify.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Checked 1 versions", verify.Stdout, StringComparison.Ordinal);
        Assert.Equal("", (await CliRunner.RunAsync("verify", repo, "--read-data", "--json")).Stderr);

        var pull = await CliRunner.RunAsync("pull", repo, Path.Combine(dir.Path, "copy"), "--quiet");
        Assert.Equal(0, pull.ExitCode);
        Assert.Equal("", pull.Stdout + pull.Stderr);
        Assert.Equal(big, await File.ReadAllBytesAsync(Path.Combine(dir.Path, "copy", "big.bin")));

        var json = await CliRunner.RunAsync("push", data, repo, "--json");
        Assert.Equal("", json.Stderr);
        Assert.False(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("published").GetBoolean());
    }

    [Fact]
    public async Task Push_and_status_name_the_special_files_they_leave_out()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        dir.Write("data/kept.txt", "kept"u8.ToArray());
        foreach (string name in new[] { "b.fifo", "a\nline.fifo", "ignored.fifo" })
        {
            var made = await CliRunner.RunProgramAsync(null, "mkfifo", Path.Combine(data, name));
            Assert.Equal(0, made.ExitCode);
        }

        dir.Write("data/.merklesyncignore", "ignored.fifo\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);

        var push = await CliRunner.RunAsync("push", data, repo, "--json");
        var json = CliRunner.Json(push);
        Assert.Equal(["a\nline.fifo", "b.fifo"], json.GetProperty("special_files_left_out").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(2, json.GetProperty("files").GetInt32()); // kept.txt and the ignore file
        Assert.Equal("warning: left out 2 special file(s) (FIFO, socket or device), which have no content to version: \"a\\nline.fifo\", b.fifo.\n", push.Stderr);

        var status = await CliRunner.RunAsync("status", data);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("left out 2 special file(s)", status.Stderr, StringComparison.Ordinal);

        var quiet = await CliRunner.RunAsync("push", data, repo, "-q");
        Assert.Equal(("", true), (quiet.Stdout, quiet.Stderr.StartsWith("warning: left out 2", StringComparison.Ordinal)));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Unix modes and user namespaces
    public async Task A_file_or_folder_the_user_cannot_read_stops_the_push_saying_what_to_do_and_the_ignore_file_leaves_it_out()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        dir.Write("data/kept.txt", "kept"u8.ToArray());
        string secret = dir.Write("data/secret.txt", "secret"u8.ToArray());
        dir.Write("data/locked/inside.txt", "inside"u8.ToArray());
        string locked = Path.Combine(data, "locked");
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        // In a user namespace with no mapping even root reads only what the modes allow.
        Task<CliRunner.Result> PushAsUser(params string[] extra) => CliRunner.RunProgramAsync(null, "unshare", ["--user", .. CliRunner.CommandLine(["push", data, repo, "-q", .. extra])]);
        const UnixFileMode ReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            File.SetUnixFileMode(secret, UnixFileMode.None);
            var file = await PushAsUser();
            Assert.Equal(2, file.ExitCode);
            Assert.Contains($"The file '{secret}' cannot be read: permission denied.", file.Stderr, StringComparison.Ordinal);
            Assert.Contains("give this user read access to it, or list it in .merklesyncignore", file.Stderr, StringComparison.Ordinal);

            File.SetUnixFileMode(secret, ReadWrite);
            foreach (var mode in new[] { UnixFileMode.None, UnixFileMode.UserRead }) // neither listed nor searched; listed only
            {
                File.SetUnixFileMode(locked, mode);
                var folder = await PushAsUser();
                Assert.Equal(2, folder.ExitCode);
                Assert.Contains($"The folder '{locked}' cannot be read: permission denied.", folder.Stderr, StringComparison.Ordinal);
            }

            Assert.Equal(1, (await CliRunner.RunAsync("log", repo)).ExitCode); // nothing was published

            File.SetUnixFileMode(secret, UnixFileMode.None);
            File.SetUnixFileMode(locked, UnixFileMode.None);
            dir.Write("data/.merklesyncignore", "secret.txt\nlocked/\n"u8.ToArray());
            var ignored = await PushAsUser("--json");
            Assert.Equal(0, ignored.ExitCode);
            Assert.Equal(2, CliRunner.Json(ignored).GetProperty("files").GetInt32()); // kept.txt and the ignore file
        }
        finally
        {
            File.SetUnixFileMode(secret, ReadWrite);
            File.SetUnixFileMode(locked, ReadWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Unix modes and user namespaces
    public async Task A_pull_where_the_user_cannot_write_says_so_and_a_rerun_with_access_completes_it()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        foreach (string name in new[] { "a.txt", "sub/b.txt", "z.txt" })
        {
            dir.Write("data/" + name, System.Text.Encoding.UTF8.GetBytes(name));
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", Path.Combine(dir.Path, "data"), repo, "-q")).ExitCode);
        Task<CliRunner.Result> PullAsUser(string target) => CliRunner.RunProgramAsync(null, "unshare", ["--user", .. CliRunner.CommandLine(["pull", repo, target, "-q"])]);
        string readOnly = Path.Combine(dir.Path, "readonly"), target = Path.Combine(dir.Path, "target"), sub = Path.Combine(target, "sub");
        Directory.CreateDirectory(readOnly);
        Directory.CreateDirectory(sub);
        const UnixFileMode ReadAndSearch = UnixFileMode.UserRead | UnixFileMode.UserExecute;
        try
        {
            File.SetUnixFileMode(readOnly, ReadAndSearch);
            File.SetUnixFileMode(sub, ReadAndSearch);
            var noState = await PullAsUser(readOnly);
            Assert.Equal(2, noState.ExitCode);
            Assert.Contains($"'{readOnly}' is not writable by this user", noState.Stderr, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(readOnly));

            var notCreated = await PullAsUser(Path.Combine(readOnly, "new"));
            Assert.Equal(2, notCreated.ExitCode);
            Assert.Contains("cannot be created", notCreated.Stderr, StringComparison.Ordinal);

            var notPlaced = await PullAsUser(target);
            Assert.Equal(2, notPlaced.ExitCode);
            Assert.Contains("'sub/b.txt' cannot be placed", notPlaced.Stderr, StringComparison.Ordinal);
            Assert.Contains("The pull placed 2 of 3 files", notPlaced.Stderr, StringComparison.Ordinal);
            Assert.Equal("a.txt", File.ReadAllText(Path.Combine(target, "a.txt")));
            Assert.Equal("z.txt", File.ReadAllText(Path.Combine(target, "z.txt")));

            File.SetUnixFileMode(sub, ReadAndSearch | UnixFileMode.UserWrite);
            Assert.Equal(0, (await PullAsUser(target)).ExitCode);
            Assert.Equal("sub/b.txt", File.ReadAllText(Path.Combine(sub, "b.txt")));
            Assert.Equal("z.txt", File.ReadAllText(Path.Combine(target, "z.txt")));
        }
        finally
        {
            File.SetUnixFileMode(readOnly, ReadAndSearch | UnixFileMode.UserWrite);
            File.SetUnixFileMode(sub, ReadAndSearch | UnixFileMode.UserWrite);
        }
    }

    [Fact]
    public async Task Push_compression_off_stores_chunks_raw_and_an_unknown_mode_is_refused_before_any_work()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        dir.Write("data/log.txt", System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 40_000).Select(i => $"{i},row,{i % 7}\n"))));
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);

        var unknown = await CliRunner.RunAsync("push", data, repo, "--compression", "fast");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("'fast'", unknown.Stderr, StringComparison.Ordinal);
        Assert.Contains("'off'", unknown.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, ".merklesync")));

        // So is a message no version can hold (it used to fail after the upload, as "corrupt data").
        var tooLong = await CliRunner.RunAsync("push", data, repo, "-m", new string('x', 100_000));
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("at most 16384", tooLong.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, ".merklesync")));

        var off = JsonDocument.Parse((await CliRunner.RunAsync("push", data, repo, "--compression", "off", "--json")).Stdout).RootElement;
        Assert.True(off.GetProperty("bytes_written").GetInt64() > off.GetProperty("new_chunk_bytes").GetInt64());

        dir.Write("data/log2.txt", System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 40_000).Select(i => $"{i},other,{i % 5}\n"))));
        var auto = JsonDocument.Parse((await CliRunner.RunAsync("push", data, repo, "--json")).Stdout).RootElement;
        Assert.True(auto.GetProperty("bytes_written").GetInt64() < auto.GetProperty("new_chunk_bytes").GetInt64() / 2);
    }

    [Fact]
    public async Task A_server_that_cannot_start_says_why_in_one_line()
    {
        using var dir = new TempDirectory();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        string root = Path.Combine(dir.Path, "root"), file = dir.Write("a-file", [1]);

        foreach (var (args, expected) in new[]
        {
            (new[] { "--root", root, "--listen", $"http://127.0.0.1:{port}" }, "address already in use"),
            (["--root", root, "--listen", "ftp://127.0.0.1:21"], "'ftp://127.0.0.1:21' is not a listen URL"),
            (["--root", root, "--listen", "127.0.0.1:8470"], "'127.0.0.1:8470' is not a listen URL"),
            (["--root", file], "is a file; the server keeps its datasets in a folder"),
            (["--root", Path.Combine(file, "sub")], $"Cannot use '{Path.Combine(file, "sub")}' as the server's root folder"),
        })
        {
            var result = await CliRunner.RunAsync(["serve", .. args]);
            Assert.NotEqual(0, result.ExitCode);
            string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(lines, l => l.StartsWith("merklesync: error: ", StringComparison.Ordinal) && l.Contains(expected, StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("fail: ", StringComparison.Ordinal)); // log lines start with a timestamp
        }
    }

    [Fact]
    public async Task Examples_show_on_a_verbs_own_help_page_but_not_in_the_command_list()
    {
        var top = await CliRunner.RunAsync("--help");
        Assert.Equal(0, top.ExitCode);
        Assert.Contains("branch <REMOTE>", top.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Example", top.Stdout, StringComparison.Ordinal);

        var push = await CliRunner.RunAsync("push", "--help");
        Assert.Contains("Example:", push.Stdout, StringComparison.Ordinal);
        Assert.Contains("merklesync push ./data", push.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tab_completion_script_asks_merklesync_itself()
    {
        var script = await CliRunner.RunAsync("completion", "bash");
        Assert.Contains("complete -o default -F _merklesync_complete merklesync", script.Stdout, StringComparison.Ordinal);
        Assert.Equal(["pull", "push"], (await CliRunner.RunAsync("[suggest:13]", "merklesync pu")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["--branch"], (await CliRunner.RunAsync("[suggest:20]", "merklesync push --br")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, (await CliRunner.RunAsync("completion", "fish")).ExitCode);
    }
}
