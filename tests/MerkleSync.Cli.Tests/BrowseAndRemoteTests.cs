using System.Net.Http.Headers;
using System.Text.Json;
using MerkleSync.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace MerkleSync.Cli.Tests;

public class BrowseAndRemoteTests
{
    [Fact]
    public async Task Named_remotes_and_show_ls_cat_work_without_pulling()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        byte[] big = new byte[300_000];
        new Random(3).NextBytes(big);
        dir.Write("data/big.bin", big);
        dir.Write("data/docs/readme.md", "# hello\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("remote", "add", "store", repo, "--dir", data)).ExitCode);

        var list = JsonDocument.Parse((await CliRunner.RunAsync("remote", "list", "--dir", data, "--json")).Stdout).RootElement;
        Assert.Equal(repo, list.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "store").GetProperty("url").GetString());

        var push = await CliRunner.RunAsync("push", data, "store", "-m", "by name", "--json");
        Assert.True(push.ExitCode == 0, push.Stderr);

        var ls = JsonDocument.Parse((await CliRunner.RunAsync("ls", "main", "docs", "-r", repo, "--json")).Stdout).RootElement;
        Assert.Equal(["docs/readme.md"], ls.EnumerateArray().Select(e => e.GetProperty("path").GetString()));

        var cat = await CliRunner.RunAsync("cat", "main", "docs/readme.md", "-r", repo);
        Assert.Equal("# hello\n", cat.Stdout);

        var show = JsonDocument.Parse((await CliRunner.RunAsync("show", "main", "-r", repo, "--json")).Stdout).RootElement;
        Assert.Equal("by name", show.GetProperty("message").GetString());
        Assert.Equal(2, show.GetProperty("files").GetInt64());

        var missing = await CliRunner.RunAsync("cat", "main", "nope.txt", "-r", repo);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("'nope.txt' is not in version", missing.Stderr, StringComparison.Ordinal);

        // A folder is not a file to print, and a path with nothing under it is not an empty listing.
        var folder = await CliRunner.RunAsync("cat", "main", "docs", "-r", repo);
        Assert.Equal(2, folder.ExitCode);
        Assert.Contains("'docs' is a folder in version", folder.Stderr, StringComparison.Ordinal);
        var nothing = await CliRunner.RunAsync("ls", "main", "doc", "-r", repo);
        Assert.Equal(1, nothing.ExitCode);
        Assert.Contains("'doc' is not in version", nothing.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, nothing.Stdout);

        // Paths as shells and habits type them name the same entries; the root is the whole version.
        foreach (string typed in (string[])["./docs", "docs/", "/docs", "docs//", "./docs/."])
        {
            var listed = JsonDocument.Parse((await CliRunner.RunAsync("ls", "main", typed, "-r", repo, "--json")).Stdout).RootElement;
            Assert.Equal(["docs/readme.md"], listed.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }

        Assert.Equal("# hello\n", (await CliRunner.RunAsync("cat", "main", "./docs/readme.md", "-r", repo)).Stdout);
        foreach (string root in (string[])[".", "/", "./"])
        {
            Assert.Equal(2, JsonDocument.Parse((await CliRunner.RunAsync("ls", "main", root, "-r", repo, "--json")).Stdout).RootElement.GetArrayLength());
            var rootCat = await CliRunner.RunAsync("cat", "main", root, "-r", repo);
            Assert.Equal(2, rootCat.ExitCode);
            Assert.Contains("is the root folder of version", rootCat.Stderr, StringComparison.Ordinal);
        }

        string part = Path.Combine(dir.Path, "part");
        var partial = await CliRunner.RunAsync("pull", repo, part, "--path", "./docs/");
        Assert.True(partial.ExitCode == 0, partial.Stderr);
        Assert.Equal(["readme.md"], Directory.EnumerateFiles(Path.Combine(part, "docs")).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(part, "big.bin")));
        var up = await CliRunner.RunAsync("ls", "main", "docs/../x", "-r", repo);
        Assert.Equal(2, up.ExitCode);
        Assert.Contains("it has a '..' segment", up.Stderr, StringComparison.Ordinal);

        var none = await CliRunner.RunAsync("log", repo, "-n", "0");
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("--max-count must be at least 1", none.Stderr, StringComparison.Ordinal);

        var unknown = await CliRunner.RunAsync("log", "nosuchremote");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("merklesync remote add nosuchremote", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paths_with_line_breaks_or_quotes_print_quoted_on_one_line_and_exact_in_json()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data"), repo = "file://" + Path.Combine(dir.Path, "repo");
        dir.Write("data/two\nlines.txt", "a"u8.ToArray());
        dir.Write("data/say \"hi\"\\x\t.txt", "b"u8.ToArray());
        dir.Write("data/plain é.txt", "c"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        var first = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--json")).GetProperty("version").GetString()!;

        var ls = (await CliRunner.RunAsync("ls", "main", "-r", repo)).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, ls.Length);
        Assert.EndsWith("  plain é.txt", ls[0], StringComparison.Ordinal);
        Assert.EndsWith("  \"say \\\"hi\\\"\\\\x\\t.txt\"", ls[1], StringComparison.Ordinal);
        Assert.EndsWith("  \"two\\nlines.txt\"", ls[2], StringComparison.Ordinal);
        Assert.Contains("two\nlines.txt", CliRunner.Json(await CliRunner.RunAsync("ls", "main", "-r", repo, "--json")).EnumerateArray().Select(e => e.GetProperty("path").GetString()));

        File.Delete(Path.Combine(data, "two\nlines.txt"));
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);
        var diff = await CliRunner.RunAsync("diff", repo, first, "main");
        Assert.Contains("- \"two\\nlines.txt\"  (1 B)\n", diff.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cat_prints_a_file_that_repeats_a_chunk_exactly()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data"), repo = "file://" + Path.Combine(dir.Path, "repo");
        byte[] head = new byte[200_000], tail = new byte[70_000];
        new Random(5).NextBytes(head);
        new Random(6).NextBytes(tail);
        byte[] content = [.. head, .. new byte[3 << 20], .. tail, .. new byte[1 << 20]]; // zeros: repeats of one chunk
        dir.Write("data/disk.img", content);
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);
        string output = Path.Combine(dir.Path, "out.img");

        var cat = await CliRunner.RunProgramAsync(null, "sh", ["-c", $"\"$0\" \"$@\" > '{output}'", .. CliRunner.CommandLine("cat", "main", "disk.img", "-r", repo)]);

        Assert.True(cat.ExitCode == 0, cat.Stderr);
        Assert.Equal(content, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task A_token_stored_with_a_remote_is_used_and_never_printed()
    {
        using var dir = new TempDirectory();
        const string Secret = "alice-secret-0123456789";
        string tokens = dir.Write("tokens.json", System.Text.Encoding.UTF8.GetBytes(
            $$$"""{"tokens": [{"name": "alice", "token": "{{{Secret}}}", "datasets": {"*": "write"}}]}"""));
        await using var app = ServerApp.Build(new ServerSettings(Path.Combine(dir.Path, "server"), ["http://127.0.0.1:0"], tokens, Quiet: true));
        await app.StartAsync();
        string url = $"{ServerApp.BaseUrl(app)}/ds";
        using (var client = new HttpClient())
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
            Assert.True((await client.PostAsync($"{ServerApp.BaseUrl(app)}/v1/datasets/ds", null)).IsSuccessStatusCode);
        }

        string data = Path.Combine(dir.Path, "data");
        dir.Write("data/a.txt", "hello\n"u8.ToArray());
        var add = await CliRunner.RunWithInputAsync(Secret + "\n", "remote", "add", "origin", url, "--dir", data, "--token-stdin");
        Assert.True(add.ExitCode == 0, add.Stderr);

        var push = await CliRunner.RunAsync("push", data, "--json"); // to origin
        Assert.True(push.ExitCode == 0, push.Stderr);
        var list = await CliRunner.RunAsync("remote", "list", "--dir", data, "--json");
        Assert.True(JsonDocument.Parse(list.Stdout).RootElement[0].GetProperty("token").GetBoolean());
        foreach (var output in new[] { add, push, list })
        {
            Assert.DoesNotContain(Secret, output.Stdout + output.Stderr, StringComparison.Ordinal);
        }

        // Another directory has no token for that server: refused, with the status in the message.
        string other = Path.Combine(dir.Path, "other");
        dir.Write("other/b.txt", "bye\n"u8.ToArray());
        var refused = await CliRunner.RunAsync("push", other, url);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("401", refused.Stderr, StringComparison.Ordinal);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_refused_remote_add_changes_nothing_and_a_changed_url_drops_the_old_token()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        Directory.CreateDirectory(data);
        const string Server = "http://127.0.0.1:8470/ds";
        const string Secret = "bob-secret-0123456789";
        Assert.Equal(0, (await CliRunner.RunWithInputAsync(Secret + "\n", "remote", "add", "origin", Server, "--dir", data, "--token-stdin")).ExitCode);

        async Task<string?> OriginUrl() => JsonDocument.Parse((await CliRunner.RunAsync("remote", "list", "--dir", data, "--json")).Stdout).RootElement
            .EnumerateArray().Single(r => r.GetProperty("name").GetString() == "origin").GetProperty("url").GetString();

        // A token for a file:// remote, an empty token, a URL without a dataset or host: each refused, origin as it was.
        var refusals = new[]
        {
            await CliRunner.RunWithInputAsync("some-token-0123456789\n", "remote", "add", "origin", Path.Combine(dir.Path, "repo"), "--dir", data, "--token-stdin"),
            await CliRunner.RunWithInputAsync("\n", "remote", "add", "origin", "http://127.0.0.1:8470/other", "--dir", data, "--token-stdin"),
            await CliRunner.RunAsync("remote", "add", "origin", "http://127.0.0.1:8470/", "--dir", data),
            await CliRunner.RunAsync("remote", "add", "origin", "http:///ds", "--dir", data),
        };
        foreach (var refused in refusals)
        {
            Assert.True(refused.ExitCode == 2, refused.Stderr);
            Assert.Equal(Server, await OriginUrl());
        }

        Assert.Contains("Tokens are for http(s):// remotes only", refusals[0].Stderr, StringComparison.Ordinal);
        Assert.Contains("is not a remote URL", refusals[2].Stderr, StringComparison.Ordinal);

        // Pointing origin elsewhere forgets the token no name uses any more.
        Assert.Equal(0, (await CliRunner.RunAsync("remote", "add", "origin", "http://127.0.0.1:8471/ds", "--dir", data)).ExitCode);
        Assert.Equal("http://127.0.0.1:8471/ds", await OriginUrl());
        Assert.DoesNotContain(Secret, File.ReadAllText(Path.Combine(data, ".merklesync", "tokens")), StringComparison.Ordinal);
    }
}
