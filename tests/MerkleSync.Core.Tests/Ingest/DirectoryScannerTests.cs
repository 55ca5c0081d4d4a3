using System.Diagnostics;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Ingest;

/// <summary>What a scan does with names a version cannot hold.</summary>
public class DirectoryScannerTests
{
    [Fact]
    public async Task A_file_whose_name_is_not_utf8_is_refused_by_its_path_unless_the_ignore_file_leaves_it_out()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Windows names are UTF-16 and always convert
        }

        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, "sub/ok.txt", "ok"u8.ToArray());
        string sub = Path.Combine(temp.Path, "sub");
        await CreateWithRawNameAsync(sub);
        try
        {
            var refused = Assert.Throws<InvalidInputException>(() => DirectoryScanner.Scan(temp.Path));
            Assert.Contains("name.bin' has a name that is not valid UTF-8", refused.Message, StringComparison.Ordinal);
            Assert.Contains(sub, refused.Message, StringComparison.Ordinal);

            File.WriteAllText(Path.Combine(temp.Path, IgnoreRules.FileName), "*name.bin\n");
            Assert.Equal([IgnoreRules.FileName, "sub/ok.txt"], DirectoryScanner.Scan(temp.Path).Select(f => f.Path));
        }
        finally
        {
            await RunShellAsync("rm -rf \"$1\"", sub); // Directory.Delete cannot name the file: it reads names as UTF-8
        }
    }

    [Theory]
    [InlineData("caf\u00e9.txt", "cafe\u0301.txt")] // two files
    [InlineData("caf\u00e9", "cafe\u0301/inside.txt")] // a file and a folder
    public void Names_that_differ_only_in_unicode_normalization_are_refused_naming_both(string composed, string decomposed)
    {
        if (OperatingSystem.IsMacOS() || OperatingSystem.IsWindows())
        {
            return; // their file systems make the two names one
        }

        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, composed, "one"u8.ToArray());
        DatasetFiles.Write(temp.Path, decomposed, "two"u8.ToArray());

        var refused = Assert.Throws<InvalidInputException>(() => DirectoryScanner.Scan(temp.Path));

        Assert.Contains(@"'caf\u00E9", refused.Message, StringComparison.Ordinal);
        Assert.Contains(@"'cafe\u0301", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Rename one of them", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_below_a_path_too_long_for_the_system_stops_the_scan_instead_of_being_left_out()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, "ok.txt", "ok"u8.ToArray());
        string deep = Path.Combine(temp.Path, "deep");
        try
        {
            // 1 200 folders of 4 characters: past PATH_MAX (4 096), which .NET's own calls cannot reach, so a shell makes them.
            await RunShellAsync("mkdir \"$1\" && cd \"$1\" && i=0 && while [ $i -lt 1200 ]; do mkdir abc && cd abc; i=$((i+1)); done && printf data > f", deep);

            var refused = Assert.Throws<InvalidInputException>(() => DirectoryScanner.Scan(temp.Path));

            Assert.Contains("cannot be read", refused.Message, StringComparison.Ordinal);
            Assert.Contains("shorten the names on its path", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            await RunShellAsync("rm -rf \"$1\"", deep); // Directory.Delete cannot reach below PATH_MAX either
        }
    }

    private static async Task RunShellAsync(string script, string argument)
    {
        var start = new ProcessStartInfo("sh") { ArgumentList = { "-c", script, "sh", argument } };
        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>Creates <c>\xff\xfename.bin</c> in <paramref name="folder"/>: .NET's own APIs write every name as UTF-8.</summary>
    private static async Task CreateWithRawNameAsync(string folder)
    {
        var start = new ProcessStartInfo("sh") { ArgumentList = { "-c", "printf data > \"$1/$(printf '\\377\\376')name.bin\"", "sh", folder } };
        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(2, Directory.EnumerateFiles(folder).Count());
    }
}
