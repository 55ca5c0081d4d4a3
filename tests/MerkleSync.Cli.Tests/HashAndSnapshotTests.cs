using System.Text.Json;

namespace MerkleSync.Cli.Tests;

public class HashAndSnapshotTests
{
    [Fact]
    public async Task Hash_prints_b3sum_style_lines_with_Xet_hashes()
    {
        using var dir = new TempDirectory();
        // The xetchunk-wasm "one-byte" vector: a single 'a'.
        string file = dir.Write("a.txt", "a"u8.ToArray());
        dir.Write("empty.bin", []);

        var result = await CliRunner.RunAsync("hash", file, Path.Combine(dir.Path, "empty.bin"));

        Assert.Equal(0, result.ExitCode);
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches("^[0-9a-f]{64}  " + System.Text.RegularExpressions.Regex.Escape(file) + "$", lines[0]);
        Assert.Equal(new string('0', 64) + "  " + Path.Combine(dir.Path, "empty.bin"), lines[1]);
    }

    [Fact]
    public async Task Hash_reads_pipes_and_standard_input_whole_and_follows_a_symlink_it_is_given()
    {
        using var dir = new TempDirectory();
        string text = string.Concat(Enumerable.Range(0, 30_000).Select(i => $"line {i}\n")); // more than a pipe holds at once
        string file = dir.Write("data.txt", System.Text.Encoding.ASCII.GetBytes(text));
        string link = Path.Combine(dir.Path, "link"), fifo = Path.Combine(dir.Path, "fifo");
        File.CreateSymbolicLink(link, "data.txt");
        File.CreateSymbolicLink(Path.Combine(dir.Path, "dangling"), "nowhere");
        string expected = (await CliRunner.RunAsync("hash", file)).Stdout.Split(' ')[0];

        var stdin = await CliRunner.RunWithInputAsync(text, "hash", "-");
        Assert.Equal($"{expected}  -\n", stdin.Stdout);
        var devStdin = await CliRunner.RunWithInputAsync(text, "hash", "/dev/stdin");
        Assert.Equal($"{expected}  /dev/stdin\n", devStdin.Stdout);

        // bash's <(...) names a pipe by a symlink in /dev/fd; a named FIFO is read as its writer writes.
        string cli = string.Join(' ', CliRunner.CommandLine().Select(a => $"'{a}'"));
        var piped = await CliRunner.RunProgramAsync(null, "bash", "-c", $"mkfifo '{fifo}' && (cat '{file}' > '{fifo}' &) && {cli} hash <(cat '{file}') '{fifo}' '{link}' '{file}'");
        Assert.True(piped.ExitCode == 0, piped.Stderr);
        Assert.Equal([expected, expected, expected, expected], piped.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]));
        Assert.Equal($"{expected}  {link}", piped.Stdout.Split('\n')[2]); // named as given, hashed as its target

        var dangling = await CliRunner.RunAsync("hash", Path.Combine(dir.Path, "dangling"));
        Assert.Equal(2, dangling.ExitCode);
        Assert.Contains("is a symbolic link to 'nowhere', which does not exist", dangling.Stderr, StringComparison.Ordinal);

        string socketPath = Path.Combine(dir.Path, "socket");
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
            var ofSocket = await CliRunner.RunAsync("hash", socketPath);
            Assert.Equal(2, ofSocket.ExitCode);
            Assert.Contains($"'{socketPath}' is a socket: it has no content to read", ofSocket.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Hash_walks_directories_and_json_lists_every_file()
    {
        using var dir = new TempDirectory();
        dir.Write("b/two.bin", new byte[200_000]);
        dir.Write("a/one.txt", "hello"u8.ToArray());

        var result = await CliRunner.RunAsync("hash", "--json", dir.Path);

        Assert.Equal(0, result.ExitCode);
        var files = JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal([dir.Path + "/a/one.txt", dir.Path + "/b/two.bin"], files.Select(f => f.GetProperty("path").GetString()));
        Assert.Equal(2, files[1].GetProperty("chunks").GetInt32());
    }

    [Fact]
    public async Task Snapshot_root_depends_on_content_not_on_creation_order_or_times()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        first.Write("x/1.bin", [1, 2, 3]);
        first.Write("y/2.bin", [4, 5]);
        second.Write("y/2.bin", [4, 5]);
        File.SetLastWriteTimeUtc(second.Write("x/1.bin", [1, 2, 3]), new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        var a = JsonDocument.Parse((await CliRunner.RunAsync("snapshot", "--json", first.Path)).Stdout).RootElement;
        var b = JsonDocument.Parse((await CliRunner.RunAsync("snapshot", "--json", second.Path)).Stdout).RootElement;

        Assert.Equal(a.GetProperty("root").GetString(), b.GetProperty("root").GetString());
        Assert.Equal(2, a.GetProperty("files").GetInt32());
        Assert.Equal(5, a.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task Snapshot_reports_duplicate_content_in_the_dedup_ratio()
    {
        using var dir = new TempDirectory();
        byte[] content = new byte[300_000];
        new Random(3).NextBytes(content);
        dir.Write("copy1.bin", content);
        dir.Write("copy2.bin", content);

        var stats = JsonDocument.Parse((await CliRunner.RunAsync("snapshot", "--json", dir.Path)).Stdout).RootElement;

        Assert.Equal(stats.GetProperty("chunks").GetInt64(), 2 * stats.GetProperty("unique_chunks").GetInt64());
        Assert.Equal(2.0, stats.GetProperty("dedup_ratio").GetDouble(), 3);
    }

    [Fact]
    public async Task Missing_paths_give_a_clear_error_and_usage_exit_code()
    {
        var result = await CliRunner.RunAsync("hash", "/definitely/not/here");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'/definitely/not/here' does not exist", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_pushes_twice_through_a_local_server_and_only_changed_chunks_travel()
    {
        var tooSmall = await CliRunner.RunAsync("demo", "--size", "1KiB");
        Assert.Equal(2, tooSmall.ExitCode);
        Assert.Contains("--size is between 1.0 MiB and 8.0 GiB", tooSmall.Stderr, StringComparison.Ordinal);

        var result = await CliRunner.RunAsync("demo", "--size", "8MiB", "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var demo = JsonDocument.Parse(result.Stdout).RootElement;
        var v2 = demo.GetProperty("v2");
        Assert.InRange(v2.GetProperty("new_chunk_bytes").GetInt64(), demo.GetProperty("edited_bytes").GetInt64(), v2.GetProperty("bytes").GetInt64() / 4);
        Assert.InRange(v2.GetProperty("wire_bytes_sent").GetInt64(), v2.GetProperty("new_chunk_bytes").GetInt64() / 2, v2.GetProperty("bytes").GetInt64() / 3);
        Assert.True(v2.GetProperty("bytes_scanned").GetInt64() < v2.GetProperty("bytes").GetInt64());
        Assert.NotEqual(demo.GetProperty("v1").GetProperty("version").GetString(), v2.GetProperty("version").GetString());
        Assert.True(demo.GetProperty("pulled_root_verified").GetBoolean());
    }
}
