using System.Diagnostics;

namespace MerkleSync.Testing;

/// <summary>
/// Where the tests find the repository and its npm test tools (tools/NAME). Shared by the test
/// projects (linked into each), which run side by side: a tool is installed once, under a lock.
/// </summary>
public static class TestTools
{
    /// <summary>The folder holding MerkleSync.sln, above the test binaries.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>
    /// The folder of npm tool <paramref name="name"/>, with its packages installed (<c>npm ci</c> on
    /// first use, unless <paramref name="installedFile"/>, a path inside it, already exists).
    /// </summary>
    public static async Task<string> NpmToolAsync(string name, string installedFile)
    {
        string tool = Path.Combine(RepositoryRoot, "tools", name);
        await using var installing = await LockAsync(Path.Combine(tool, ".install.lock"));
        if (!File.Exists(Path.Combine(tool, installedFile)))
        {
            using var npm = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund") { WorkingDirectory = tool, RedirectStandardOutput = true, RedirectStandardError = true })!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            var stderr = npm.StandardError.ReadToEndAsync(timeout.Token);
            await npm.StandardOutput.ReadToEndAsync(timeout.Token);
            await npm.WaitForExitAsync(timeout.Token);
            if (npm.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm ci in {tool} failed: {await stderr}");
            }
        }

        return tool;
    }

    // An exclusive lock file (flock on Unix), waited for within a bound.
    private static async Task<FileStream> LockAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MerkleSync.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("MerkleSync.sln not found above the test binaries.");
    }
}
