using MerkleSync.Core.Errors;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Ingest;

/// <summary>.merklesyncignore: gitignore's syntax and its "last match wins" rule, and the scanner honouring it.</summary>
public class IgnoreRulesTests
{
    [Theory]
    [InlineData("*.tmp", "a.tmp", false, true)]
    [InlineData("*.tmp", "d/e/a.tmp", false, true)]
    [InlineData("*.tmp", "a.tmpx", false, false)]
    [InlineData("build/", "build", true, true)]
    [InlineData("build/", "x/build", true, true)]
    [InlineData("build/", "build", false, false)]
    [InlineData("/build", "build", false, true)]
    [InlineData("/build", "x/build", true, false)]
    [InlineData("docs/*.md", "docs/a.md", false, true)]
    [InlineData("docs/*.md", "docs/x/a.md", false, false)]
    [InlineData("docs/*.md", "a.md", false, false)]
    [InlineData("**/cache", "cache", true, true)]
    [InlineData("**/cache", "a/b/cache", true, true)]
    [InlineData("logs/**", "logs/a/b.txt", false, true)]
    [InlineData("logs/**", "logs", true, false)]
    [InlineData("a/**/z", "a/z", false, true)]
    [InlineData("a/**/z", "a/b/c/z", false, true)]
    [InlineData("a/**/z", "b/a/z", false, false)]
    [InlineData("a*/b", "ab/b", false, true)]
    [InlineData("a*/b", "a/x/b", false, false)]
    [InlineData("[ab].txt", "b.txt", false, true)]
    [InlineData("[ab].txt", "c.txt", false, false)]
    [InlineData("[!ab].txt", "c.txt", false, true)]
    [InlineData("[!ab].txt", "a.txt", false, false)]
    [InlineData("x/[!a]y", "x//y", false, false)]
    [InlineData("?.bin", "x.bin", false, true)]
    [InlineData("?.bin", "xy.bin", false, false)]
    [InlineData("foo*", "d/foobar", false, true)]
    [InlineData("\\#name", "#name", false, true)]
    [InlineData("\\!bang", "!bang", false, true)]
    [InlineData("x.txt   ", "x.txt", false, true)]
    [InlineData("# a comment", "# a comment", false, false)]
    [InlineData("a.b", "axb", false, false)]
    public void A_pattern_matches_as_in_gitignore(string pattern, string path, bool isDirectory, bool ignored) =>
        Assert.Equal(ignored, IgnoreRules.Parse([pattern]).IsIgnored(path, isDirectory));

    [Fact]
    public void The_last_matching_pattern_decides()
    {
        var rules = IgnoreRules.Parse(["*.log", "!keep.log", "", "# logs of runs", "runs/*.log"]);

        Assert.True(rules.IsIgnored("x.log", false));
        Assert.False(rules.IsIgnored("keep.log", false));
        Assert.False(rules.IsIgnored("d/keep.log", false));
        Assert.True(rules.IsIgnored("runs/keep.log", false));
        Assert.False(rules.IsIgnored("notes.txt", false));
    }

    [Fact]
    public void The_documented_example_keeps_one_checkpoint()
    {
        var rules = IgnoreRules.Parse(["# .merklesyncignore", "*.tmp", "__pycache__/", "/checkpoints/*", "!/checkpoints/final.pt"]);

        Assert.True(rules.Excludes("src/__pycache__/m.pyc"));
        Assert.True(rules.Excludes("checkpoints/step-100.pt"));
        Assert.True(rules.Excludes("checkpoints/old/step-1.pt"));
        Assert.False(rules.Excludes("checkpoints/final.pt"));
        Assert.False(rules.Excludes("data/checkpoints/x.pt"));
        Assert.True(rules.Excludes("a/b.tmp"));
    }

    [Fact]
    public void A_bad_pattern_is_refused_naming_its_line()
    {
        var error = Assert.Throws<InvalidInputException>(() => IgnoreRules.Parse(["*.tmp", "data[12"], "/d/.merklesyncignore"));

        Assert.Contains("/d/.merklesyncignore, line 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("data[12", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_scanner_leaves_out_what_the_ignore_file_excludes_and_everything_inside_excluded_folders()
    {
        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, IgnoreRules.FileName, "*.tmp\n!keep.tmp\ncache/\n/top.txt\n"u8.ToArray());
        foreach (string path in (string[])["a.txt", "a.tmp", "keep.tmp", "d/b.tmp", "d/top.txt", "top.txt", "cache/x.bin", "d/cache/y.bin"])
        {
            DatasetFiles.Write(temp.Path, path, "x"u8.ToArray());
        }

        var paths = DirectoryScanner.Scan(temp.Path).Select(f => f.Path);

        Assert.Equal([IgnoreRules.FileName, "a.txt", "d/top.txt", "keep.tmp"], paths);
    }

    [Fact]
    public void The_scanner_leaves_out_client_state_at_any_depth()
    {
        using var temp = new TempFolder();
        foreach (string path in (string[])["a.txt", ".merklesync/tokens", "nested/b.txt", "nested/.merklesync/tokens", "nested/.merklesync/state/CURRENT", "d/e/.merklesync"])
        {
            DatasetFiles.Write(temp.Path, path, "x"u8.ToArray());
        }

        Assert.Equal(["a.txt", "nested/b.txt"], DirectoryScanner.Scan(temp.Path).Select(f => f.Path));
    }
}
