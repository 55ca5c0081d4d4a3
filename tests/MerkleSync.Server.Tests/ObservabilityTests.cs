using System.Text.Json;
using MerkleSync.Core.Sync;

namespace MerkleSync.Server.Tests;

public class ObservabilityTests
{
    [Fact]
    public async Task Health_metrics_and_the_OpenAPI_document_are_served()
    {
        await using var server = await TestServer.StartAsync();
        string source = Files.NewFolder();
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
        Assert.Contains("http_requests_received_total", metrics, StringComparison.Ordinal);

        using var openApi = JsonDocument.Parse(await http.GetStringAsync($"{server.BaseUrl}/openapi/v1.json"));
        var paths = openApi.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/v1/datasets/{dataset}/publish", paths);
        Assert.Contains("/v1/datasets/{dataset}/uploads/{id}", paths);
    }
}
