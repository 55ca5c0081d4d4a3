using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MerkleSync.Cli.Tests;

/// <summary>The server's log lines as `merklesync serve` writes them to stderr, in both formats.</summary>
public partial class ServeLogTests
{
    [Fact]
    public async Task Text_lines_start_with_a_utc_timestamp_and_the_access_log_names_who_what_bytes_status_and_time()
    {
        var (lines, started, finished) = await ServeTwoRequestsAsync("text");

        var healthz = Assert.Single(lines, l => l.Contains("MerkleSync.Access[2]", StringComparison.Ordinal) && l.Contains(" GET /healthz ", StringComparison.Ordinal));
        var match = TextAccessLine().Match(healthz);
        Assert.True(match.Success, healthz);
        AssertWithin(match.Groups["time"].Value, started, finished);
        Assert.Contains(lines, l => l.Contains("MerkleSync.Access[2]", StringComparison.Ordinal) && l.Contains(" GET /v1/datasets/nope/branches/main in=0 ", StringComparison.Ordinal) && l.Contains(" status=404 ", StringComparison.Ordinal));
        Assert.All(lines, line => Assert.Matches(LineStart(), line));
    }

    [Fact]
    public async Task Json_lines_are_one_object_each_with_the_access_logs_fields_apart()
    {
        var (lines, started, finished) = await ServeTwoRequestsAsync("json");

        var entries = lines.Select(line => JsonDocument.Parse(line).RootElement).ToList(); // every line is one JSON object
        var access = entries.Where(e => e.GetProperty("Category").GetString() == "MerkleSync.Access" && e.GetProperty("EventId").GetInt32() == 2)
            .Select(e => e.GetProperty("State")).ToList();
        var healthz = Assert.Single(access, s => s.GetProperty("Path").GetString() == "/healthz");
        Assert.Equal("anonymous", healthz.GetProperty("User").GetString());
        Assert.Equal("GET", healthz.GetProperty("Method").GetString());
        Assert.Equal(200, healthz.GetProperty("Status").GetInt32());
        Assert.Equal(0, healthz.GetProperty("BytesIn").GetInt64());
        Assert.Equal("ok\n".Length, healthz.GetProperty("BytesOut").GetInt64());
        Assert.True(healthz.GetProperty("Milliseconds").GetDouble() >= 0);
        Assert.Contains(access, s => s.GetProperty("Path").GetString() == "/v1/datasets/nope/branches/main" && s.GetProperty("Status").GetInt32() == 404);
        Assert.All(entries, e => AssertWithin(e.GetProperty("Timestamp").GetString()!, started, finished));
    }

    [Fact]
    public async Task An_unknown_log_format_is_refused_before_the_server_starts()
    {
        using var dir = new TempDirectory();
        var result = await CliRunner.RunAsync("serve", "--root", Path.Combine(dir.Path, "root"), "--listen", "http://127.0.0.1:0", "--log-format", "xml");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'xml'", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "root")));
    }

    // Starts the server, asks for /healthz and a missing dataset's branch, stops it once both are logged; returns its lines.
    private static async Task<(IReadOnlyList<string> Lines, DateTimeOffset Started, DateTimeOffset Finished)> ServeTwoRequestsAsync(string format)
    {
        using var dir = new TempDirectory();
        var started = DateTimeOffset.UtcNow;
        using var server = new ServerOutput(CliRunner.Start("serve", "--root", Path.Combine(dir.Path, "root"), "--listen", "http://127.0.0.1:0", "--log-format", format));
        try
        {
            string listening = await server.WaitForLineAsync("Now listening on: ");
            string url = ListenUrl().Match(listening).Value;
            using var http = new HttpClient();
            Assert.Equal("ok\n", await http.GetStringAsync($"{url}/healthz"));
            using var missing = await http.GetAsync($"{url}/v1/datasets/nope/branches/main");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
            await server.WaitForLineAsync("/v1/datasets/nope/branches/main");
        }
        finally
        {
            await server.StopAsync();
        }

        return (server.Lines.Where(l => l.Length > 0).ToList(), started, DateTimeOffset.UtcNow);
    }

    private static void AssertWithin(string timestamp, DateTimeOffset started, DateTimeOffset finished)
    {
        Assert.EndsWith("Z", timestamp, StringComparison.Ordinal);
        var at = DateTimeOffset.ParseExact(timestamp, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.InRange(at, started.AddSeconds(-1), finished.AddSeconds(1)); // milliseconds are cut, not rounded
    }

    [GeneratedRegex(@"^(?<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) info: MerkleSync\.Access\[2\] anonymous GET /healthz in=0 out=3 status=200 ms=\d+\.\d$")]
    private static partial Regex TextAccessLine();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warn|fail|crit|dbug|trce): ")]
    private static partial Regex LineStart();

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
    private static partial Regex ListenUrl();
}
