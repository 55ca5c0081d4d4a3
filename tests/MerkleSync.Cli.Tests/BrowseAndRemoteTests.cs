using System.Text.Json;

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

        var unknown = await CliRunner.RunAsync("log", "nosuchremote");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("merklesync remote add nosuchremote", unknown.Stderr, StringComparison.Ordinal);
    }
}
