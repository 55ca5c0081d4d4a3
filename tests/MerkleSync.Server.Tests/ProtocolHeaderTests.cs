using MerkleSync.Core.Errors;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace MerkleSync.Server.Tests;

public class ProtocolHeaderTests
{
    [Fact]
    public async Task Every_answer_of_the_server_names_its_protocol_even_an_error()
    {
        await using var server = await TestServer.StartAsync(tokensJson: """{"tokens": [{"name": "a", "token": "a-token-0123456789abc", "datasets": {"*": "read"}}]}""");
        using var http = new HttpClient();
        foreach (string path in new[] { "/healthz", "/v1/datasets/ds/branches/main", "/nowhere" })
        {
            using var response = await http.GetAsync(server.BaseUrl + path); // 200, 401 and 404
            Assert.Equal([WireFormat.ProtocolVersion], response.Headers.GetValues(WireFormat.ProtocolHeader));
        }
    }

    [Fact]
    public async Task A_remote_url_with_a_folder_before_the_dataset_is_told_what_a_remote_url_is()
    {
        await using var server = await TestServer.StartAsync();
        await using var remote = new HttpRemote(new Uri($"{server.BaseUrl}/data/ds"), null);
        var missing = await Assert.ThrowsAsync<NotFoundException>(async () => await remote.GetBranchAsync("main", CancellationToken.None));
        Assert.Equal(
            "server answered 404: No such endpoint: GET /data/v1/datasets/ds/branches/main. A remote on this server is http(s)://HOST:PORT/DATASET, the dataset's name right after the port.",
            missing.Message);
    }

    [Fact]
    public async Task A_url_that_is_not_a_merklesync_server_or_speaks_another_protocol_gets_a_clear_error()
    {
        // What a mistyped port may reach: a web server that answers 404 pages, or 200 pages, and a server of another protocol version.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var other = builder.Build();
        other.MapGet("/notfound/v1/datasets/ds/branches/main", () => Results.NotFound("File not found"));
        other.MapGet("/page/v1/datasets/ds/branches/main", () => Results.Content("<html>hello</html>", "text/html"));
        other.MapGet("/future/v1/datasets/ds/branches/main", (HttpResponse response) =>
        {
            response.Headers[WireFormat.ProtocolHeader] = "2";
            return Results.Json(new { branch = "main", record = (string?)null });
        });
        await other.StartAsync();
        string baseUrl = Hosting.ServerApp.BaseUrl(other);

        async Task<Exception> BranchOf(string prefix)
        {
            await using var remote = new HttpRemote(new Uri($"{baseUrl}/{prefix}/ds"), null);
            return await Assert.ThrowsAnyAsync<Exception>(async () => await remote.GetBranchAsync("main", CancellationToken.None));
        }

        var notFound = Assert.IsType<NotFoundException>(await BranchOf("notfound")); // its body is JSON, but not our error object
        Assert.Contains("is " + baseUrl + " a MerkleSync server?", notFound.Message, StringComparison.Ordinal);
        var page = Assert.IsType<InvalidInputException>(await BranchOf("page"));
        Assert.Contains("it is not a MerkleSync server", page.Message, StringComparison.Ordinal);
        var future = Assert.IsType<InvalidInputException>(await BranchOf("future"));
        Assert.Contains("speaks MerkleSync protocol 2, this client protocol 1", future.Message, StringComparison.Ordinal);
        await other.StopAsync();
    }

    [Fact]
    public async Task A_server_of_our_protocol_whose_json_answers_have_another_shape_gets_a_corrupt_answer_error_not_a_crash()
    {
        // A broken build or proxy rewriting bodies: each answer names the protocol, the JSON is wrong.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var broken = builder.Build();
        IResult Answer(HttpResponse response, string json)
        {
            response.Headers[WireFormat.ProtocolHeader] = WireFormat.ProtocolVersion;
            return Results.Content(json, "application/json");
        }

        broken.MapGet("/v1/datasets/ds/branches/main", (HttpResponse r) => Answer(r, """{"record": 5}"""));
        broken.MapGet("/v1/datasets/ds/refs", (HttpResponse r) => Answer(r, """[{"kind": "branch", "name": "main", "record": "not a hash"}]"""));
        broken.MapGet("/v1/datasets/ds/resolve/{*spec}", (HttpResponse r) => Answer(r, """{"record": "00", "record_bytes": "!!"}"""));
        broken.MapGet("/v1/datasets/ds/history/{id}", (HttpResponse r) => Answer(r, """{"not": "a list"}"""));
        broken.MapPost("/v1/datasets/ds/gc", (HttpResponse r) => Answer(r, """{"versionsRemoved": "many"}"""));
        await broken.StartAsync();
        await using var remote = new HttpRemote(new Uri($"{Hosting.ServerApp.BaseUrl(broken)}/ds"), null);
        var none = CancellationToken.None;

        await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.GetBranchAsync("main", none));
        await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.ListRefsAsync(none));
        await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.ResolveAsync("main", none));
        await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.HistoryAsync(Core.Hashing.Hash.Zero, 5, none));
        await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.CollectGarbageAsync(TimeSpan.Zero, dryRun: false, none));
        await broken.StopAsync();
    }

    [Fact]
    public async Task A_server_whose_history_comes_back_to_a_record_gets_a_corrupt_answer_error_not_an_endless_walk()
    {
        // Pages may step over forgotten records, so nothing links a page to the one before: a server
        // that answers every page with the same record must not keep the client walking.
        var record = new Core.Index.VersionRecord(Core.Hashing.Hash.Zero, Parent: Core.Hashing.XetHashes.ChunkHash([1]), 1, "a", "", 0, 0, 0);
        var looping = new VersionRef(record.Id, record);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        server.MapGet("/v1/datasets/ds/history/{id}", (HttpResponse r) =>
        {
            r.Headers[WireFormat.ProtocolHeader] = WireFormat.ProtocolVersion;
            return Results.Content(new System.Text.Json.Nodes.JsonArray(WireFormat.VersionJson(looping)).ToJsonString(), "application/json");
        });
        await server.StartAsync();
        await using var remote = new HttpRemote(new Uri($"{Hosting.ServerApp.BaseUrl(server)}/ds"), null);

        var error = await Assert.ThrowsAsync<CorruptDataException>(async () => await remote.HistoryInPagesAsync(looping.Id, long.MaxValue, CancellationToken.None).CountAsync());
        Assert.Contains("comes back to record", error.Message, StringComparison.Ordinal);
        await server.StopAsync();
    }
}
