using System.Collections.Concurrent;
using System.Net;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Core.Tree;

namespace MerkleSync.Server.Tests;

/// <summary>File records and tree nodes travel ahead of a small publish, in bounded, checked bodies.</summary>
public class PublishProtocolTests : FolderTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_push_sends_file_records_and_nodes_ahead_and_publishes_with_a_body_that_does_not_grow_with_the_push()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder();
        for (int i = 0; i < 3000; i++)
        {
            Files.Write(source, $"d{i / 300}/f{i:D4}.bin", Files.Random(100 + i, 200 + (i % 7)));
        }

        var recorder = new BodyRecorder();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, recorder);
        await remote.CreateAsync(None);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(Message: "three thousand files"), None);

        long publish = Assert.Single(recorder.Bodies("/publish"));
        Assert.InRange(publish, 1, 200);
        Assert.True(recorder.Bodies("/files").Sum() > 3000 * 2 * Hash.Size, "every file's record went ahead of the publish");
        Assert.NotEmpty(recorder.Bodies("/nodes"));
        Assert.Equal(3000, (await remote.ResolveAsync("main", None)).Record.Files);
        Assert.True(pushed.Published);
    }

    [Fact]
    public void Bodies_are_cut_into_batches_of_at_most_the_budget_and_an_item_larger_than_it_goes_alone()
    {
        long[] sizes = [3 << 20, 3 << 20, 3 << 20, 20 << 20, 1 << 20, 1 << 20];

        var batches = WireFormat.Batches(sizes, s => s).ToList();

        Assert.Equal([[3 << 20, 3 << 20], [3 << 20], [20 << 20], [1 << 20, 1 << 20]], batches.Select(b => b.ToArray()));
        Assert.Empty(WireFormat.Batches(Array.Empty<long>(), s => s));
    }

    [Fact]
    public async Task Bad_file_records_nodes_and_publish_bodies_get_a_clear_4xx_and_store_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient();
        string api = $"{server.BaseUrl}/v1/datasets/ds";
        (await http.PostAsync(api, null)).EnsureSuccessStatusCode();

        async Task<(HttpStatusCode Status, string Body)> PostAsync(string endpoint, ReadOnlyMemory<byte> body)
        {
            using var response = await http.PostAsync($"{api}/{endpoint}", new ReadOnlyMemoryContent(body));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var chunk = new ChunkRef(XetHashes.ChunkHash("never uploaded"u8), 14);
        var file = new NewFile(XetHashes.FileHash([chunk]), [chunk]);
        byte[] leaf = TreeNode.Leaf([new TreeEntry("x", file.FileHash, 14, EntryMode.Regular)]).Encode();

        var unknownChunk = await PostAsync("files", WireFormat.EncodeFiles([file]));
        var garbage = await PostAsync("files", "MSFIL1\u0005"u8.ToArray());
        var wrongId = await PostAsync("nodes", WireFormat.EncodeNodes([new(Hash.Zero, leaf)]));
        var oldPublish = await PostAsync("publish", "MSPUB1 a publish with everything in it"u8.ToArray());
        var unstaged = await PostAsync("publish", WireFormat.EncodePublish(new PublishRequest("main", null, TreeFormat.NodeId(leaf), "t", "")));

        Assert.Equal(HttpStatusCode.NotFound, unknownChunk.Status);
        Assert.Contains("does not have", unknownChunk.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, garbage.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongId.Status);
        Assert.Contains("does not hash to its id", wrongId.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, oldPublish.Status);
        Assert.Contains("MSPUB2", oldPublish.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, unstaged.Status);

        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        bool[] haveFile = await remote.HaveFilesAsync([file.FileHash], None);
        bool[] haveNodes = await remote.HaveNodesAsync([Hash.Zero, TreeFormat.NodeId(leaf)], None);
        Assert.Equal([false], haveFile);
        Assert.Equal([false, false], haveNodes);
        Assert.Null(await remote.GetBranchAsync("main", None));
    }

    /// <summary>Notes the length of every request body, by the endpoint it went to.</summary>
    private sealed class BodyRecorder() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly ConcurrentQueue<(string Path, long Length)> _bodies = new();

        public IEnumerable<long> Bodies(string endpoint) => _bodies.Where(b => b.Path.EndsWith("/ds" + endpoint, StringComparison.Ordinal)).Select(b => b.Length);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _bodies.Enqueue((request.RequestUri!.AbsolutePath, request.Content?.Headers.ContentLength ?? 0));
            return base.SendAsync(request, cancellationToken);
        }
    }
}
