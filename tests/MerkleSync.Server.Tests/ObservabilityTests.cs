using System.Text.Json;
using MerkleSync.Core.Sync;
using MerkleSync.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace MerkleSync.Server.Tests;

public class ObservabilityTests : FolderTests
{
    [Fact]
    public async Task Health_metrics_and_the_OpenAPI_document_are_served()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        Files.Write(source, "a.bin", Files.Random(1, 100_000));
        await using (var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null))
        {
            await remote.CreateAsync(CancellationToken.None);
            await PushOperation.PushAsync(source, remote, new PushOptions(), CancellationToken.None);
        }

        using var http = new HttpClient();
        Assert.Equal("ok\n", await http.GetStringAsync($"{server.BaseUrl}/healthz"));

        string metrics = await http.GetStringAsync($"{server.BaseUrl}/metrics");
        Assert.Contains("merklesync_uploads_completed_total", metrics, StringComparison.Ordinal);
        Assert.Contains("merklesync_publishes_total", metrics, StringComparison.Ordinal);
        Assert.Contains("merklesync_versions_forgotten_total", metrics, StringComparison.Ordinal);
        Assert.Contains("merklesync_gc_bytes_freed_total", metrics, StringComparison.Ordinal);
        Assert.Contains("http_requests_received_total", metrics, StringComparison.Ordinal);

        using var openApi = JsonDocument.Parse(await http.GetStringAsync($"{server.BaseUrl}/openapi/v1.json"));
        var paths = openApi.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/v1/datasets/{dataset}/publish", paths);
        Assert.Contains("/v1/datasets/{dataset}/files", paths);
        Assert.Contains("/v1/datasets/{dataset}/nodes", paths);
        Assert.Contains("/v1/datasets/{dataset}/uploads/{id}", paths);
    }
}

public class HostingTests : FolderTests
{
    [Fact]
    public void The_standalone_servers_arguments_choose_the_log_format_and_refuse_an_unknown_one()
    {
        Assert.Equal(LogFormat.Text, ServerSettings.FromArgs(["--root", "r"]).LogFormat);
        Assert.Equal(LogFormat.Json, ServerSettings.FromArgs(["--root", "r", "--log-format", "json"]).LogFormat);
        var refused = Assert.Throws<Core.Errors.InvalidInputException>(() => ServerSettings.FromArgs(["--root", "r", "--log-format", "xml"]));
        Assert.Equal("'xml' is not a log format; use text or json.", refused.Message);
        Assert.Contains("--log-format needs a value", Assert.Throws<Core.Errors.InvalidInputException>(() => ServerSettings.FromArgs(["--root", "r", "--log-format"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_watches_no_configuration_file_in_its_working_directory()
    {
        // A reloadable appsettings.json puts an inotify watch on every folder under the working
        // directory, and the server then pays for every file written anywhere below it.
        string root = NewFolder();
        await using var app = ServerApp.Build(new ServerSettings(root, ["http://127.0.0.1:0"], null));
        var providers = ((IConfigurationRoot)app.Configuration).Providers.OfType<FileConfigurationProvider>().ToList();
        Assert.All(providers, provider => Assert.False(provider.Source.ReloadOnChange, provider.Source.Path));
    }
}
