using System.Diagnostics;

namespace MerkleSync.Testing;

/// <summary>
/// A real S3-compatible server for tests: s3rver from npm (tools/s3-server) on a free loopback
/// port with one empty bucket, its objects in a temporary folder. Stopped, and its folder removed,
/// on dispose; it also stops by itself when the test process dies (its standard input closes).
/// </summary>
public sealed class S3TestServer : IAsyncDisposable
{
    public const string Bucket = "merklesync-test";

    /// <summary>The only credentials s3rver accepts. Set as the process's AWS environment, so that code using the SDK's default chain finds them.</summary>
    public const string AccessKey = "S3RVER", SecretKey = "S3RVER";

    private Process? _process;
    private readonly string _data;

    private S3TestServer(Process process, string data, string endpoint)
    {
        _process = process;
        _data = data;
        Endpoint = endpoint;
    }

    /// <summary>The server's base URL, http://127.0.0.1:PORT.</summary>
    public string Endpoint { get; }

    /// <summary>The folder where s3rver keeps the bucket's objects.</summary>
    public string DataFolder => _data;

    /// <summary>A location in the bucket, as merklesync takes it: s3:http://127.0.0.1:PORT/BUCKET/PREFIX.</summary>
    public string Location(string prefix) => $"s3:{Endpoint}/{Bucket}/{prefix}";

    public static async Task<S3TestServer> StartAsync()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", AccessKey);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", SecretKey);
        await TestTools.NpmToolAsync("s3-server", Path.Combine("node_modules", "s3rver", "package.json"));
        string data = Directory.CreateTempSubdirectory("merklesync-s3-").FullName;
        var (process, endpoint) = await LaunchAsync(data, 0);
        return new S3TestServer(process, data, endpoint);
    }

    /// <summary>Stops the server as an outage would: its objects stay, and <see cref="RestartAsync"/> brings it back at the same address.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            process.Dispose();
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        (_process, _) = await LaunchAsync(_data, new Uri(Endpoint).Port);
    }

    private static string Tools => Path.Combine(TestTools.RepositoryRoot, "tools", "s3-server");

    private static async Task<(Process Process, string Endpoint)> LaunchAsync(string data, int port)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = Tools, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        // s3rver makes list continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
        foreach (string arg in (string[])["--openssl-legacy-provider", "serve.mjs", data, Bucket, port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }

        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"s3rver did not start: {line} {await process.StandardError.ReadToEndAsync()}");
        }

        _ = process.StandardError.ReadToEndAsync(); // drain, so it never blocks on a full pipe
        return (process, line["listening ".Length..].Trim());
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
