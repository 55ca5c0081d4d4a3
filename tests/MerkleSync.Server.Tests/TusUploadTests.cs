using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;

namespace MerkleSync.Server.Tests;

/// <summary>The tus 1.0 upload endpoint: core, creation, checksum, termination, and pack verification at the end.</summary>
public class TusUploadTests
{
    private static async Task<(byte[] Pack, PackSummary Summary)> MakePackAsync(int seed, int chunks)
    {
        using var stream = new MemoryStream();
        var writer = new PackWriter(stream);
        for (int i = 0; i < chunks; i++)
        {
            byte[] chunk = Files.Random(seed + i, 20_000 + i);
            await writer.AddAsync(XetHashes.ChunkHash(chunk), chunk, CancellationToken.None);
        }

        var summary = await writer.FinishAsync(CancellationToken.None);
        return (stream.ToArray(), summary);
    }

    private static async Task<(HttpClient Client, string Uploads)> DatasetAsync(TestServer server)
    {
        var client = new HttpClient();
        client.DefaultRequestHeaders.Add("Tus-Resumable", "1.0.0");
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"{server.BaseUrl}/v1/datasets/ds", null)).StatusCode);
        return (client, $"{server.BaseUrl}/v1/datasets/ds/uploads");
    }

    /// <summary>A new upload of <paramref name="length"/> bytes, or of deferred length (null).</summary>
    private static async Task<Uri> CreateAsync(HttpClient client, string uploads, long? length)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uploads);
        if (length is { } known)
        {
            request.Headers.Add("Upload-Length", known.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            request.Headers.Add("Upload-Defer-Length", "1");
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return new Uri(new Uri(uploads), response.Headers.Location!);
    }

    private static Task<HttpResponseMessage> PatchAsync(HttpClient client, Uri upload, long offset, ReadOnlyMemory<byte> bytes, string? checksum = null, long? length = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new ByteArrayContent(bytes.ToArray()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        request.Headers.Add("Upload-Offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (checksum is not null)
        {
            request.Headers.Add("Upload-Checksum", checksum);
        }

        if (length is not null)
        {
            request.Headers.Add("Upload-Length", length.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return client.SendAsync(request);
    }

    private static async Task<long> OffsetAsync(HttpClient client, Uri upload)
    {
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, upload));
        return long.Parse(response.Headers.GetValues("Upload-Offset").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<bool> HasChunkAsync(HttpClient client, TestServer server, Hash chunk)
    {
        using var response = await client.PostAsync($"{server.BaseUrl}/v1/datasets/ds/missing/chunks", new ByteArrayContent(chunk.ToArray()));
        return ((await response.Content.ReadAsByteArrayAsync())[0] & 1) == 0;
    }

    [Fact]
    public async Task An_upload_resumes_at_its_offset_rejects_bad_pieces_and_indexes_the_pack_when_complete()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var (pack, summary) = await MakePackAsync(1, 5);
        var upload = await CreateAsync(client, uploads, pack.Length);
        int half = pack.Length / 2;

        Assert.Equal(0, await OffsetAsync(client, upload));
        Assert.Equal(HttpStatusCode.NoContent, (await PatchAsync(client, upload, 0, pack.AsMemory(0, half))).StatusCode);
        Assert.Equal(half, await OffsetAsync(client, upload));

        // Wrong offset: 409. Wrong checksum: 460, and the bytes are not kept.
        Assert.Equal(HttpStatusCode.Conflict, (await PatchAsync(client, upload, 7, pack.AsMemory(half))).StatusCode);
        var badChecksum = "sha256 " + Convert.ToBase64String(SHA256.HashData("not these bytes"u8));
        Assert.Equal(460, (int)(await PatchAsync(client, upload, half, pack.AsMemory(half), badChecksum)).StatusCode);
        Assert.Equal(half, await OffsetAsync(client, upload));
        Assert.False(await HasChunkAsync(client, server, summary.Entries[0].ChunkHash));

        var goodChecksum = "sha1 " + Convert.ToBase64String(SHA1.HashData(pack.AsSpan(half)));
        using var last = await PatchAsync(client, upload, half, pack.AsMemory(half), goodChecksum);
        Assert.Equal(HttpStatusCode.NoContent, last.StatusCode);
        Assert.Equal(summary.PackId.ToString(), last.Headers.GetValues("MerkleSync-Pack-Id").Single());
        Assert.True(await HasChunkAsync(client, server, summary.Entries[4].ChunkHash));
    }

    [Fact]
    public async Task A_pack_with_a_wrong_chunk_gets_422_and_nothing_is_indexed()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var (pack, summary) = await MakePackAsync(2, 3);
        pack[PackFormat.HeaderLength + 10] ^= 0x40; // inside the first chunk; its CRC and hash no longer match
        var upload = await CreateAsync(client, uploads, pack.Length);

        using var response = await PatchAsync(client, upload, 0, pack);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("failed verification", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        foreach (var entry in summary.Entries)
        {
            Assert.False(await HasChunkAsync(client, server, entry.ChunkHash));
        }
    }

    [Fact]
    public async Task Oversized_and_overlong_uploads_and_missing_headers_are_refused()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        using var huge = new HttpRequestMessage(HttpMethod.Post, uploads);
        huge.Headers.Add("Upload-Length", (1L << 40).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(huge)).StatusCode);

        var upload = await CreateAsync(client, uploads, 100);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await PatchAsync(client, upload, 0, new byte[200])).StatusCode);

        using var noVersion = new HttpClient();
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await noVersion.PostAsync(uploads, null)).StatusCode);
    }

    [Fact]
    public async Task A_deferred_length_upload_streams_then_learns_its_length_with_the_last_piece()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var (pack, summary) = await MakePackAsync(5, 4);
        var upload = await CreateAsync(client, uploads, length: null);
        int half = pack.Length / 2;

        Assert.Equal(HttpStatusCode.NoContent, (await PatchAsync(client, upload, 0, pack.AsMemory(0, half))).StatusCode);
        using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, upload)))
        {
            Assert.Equal("1", head.Headers.GetValues("Upload-Defer-Length").Single());
            Assert.False(head.Headers.Contains("Upload-Length"));
        }

        // A length shorter than what already arrived is refused and changes nothing.
        using var tooShort = await PatchAsync(client, upload, half, pack.AsMemory(half), length: half - 1);
        Assert.Equal(HttpStatusCode.BadRequest, tooShort.StatusCode);
        Assert.Equal(half, await OffsetAsync(client, upload));

        using var last = await PatchAsync(client, upload, half, pack.AsMemory(half), length: pack.Length);
        Assert.Equal(HttpStatusCode.NoContent, last.StatusCode);
        Assert.Equal(summary.PackId.ToString(), last.Headers.GetValues("MerkleSync-Pack-Id").Single());
        Assert.True(await HasChunkAsync(client, server, summary.Entries[3].ChunkHash));
    }

    [Fact]
    public async Task A_deferred_length_upload_cannot_grow_past_the_largest_pack()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var upload = await CreateAsync(client, uploads, length: null);

        using var overlong = await PatchAsync(client, upload, 0, new byte[100], length: MerkleSync.Core.Repository.Repository.MaxUploadLength + 1);
        Assert.Equal(HttpStatusCode.BadRequest, overlong.StatusCode);
        Assert.Equal(0, await OffsetAsync(client, upload));
    }

    [Fact]
    public async Task Termination_removes_an_upload()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var upload = await CreateAsync(client, uploads, 1000);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(upload)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, upload))).StatusCode);
    }

    [Fact]
    public async Task The_stock_tus_js_client_uploads_a_pack()
    {
        await using var server = await TestServer.StartAsync();
        var (client, uploads) = await DatasetAsync(server);
        var (pack, summary) = await MakePackAsync(3, 40); // ~0.9 MB: several 256 KiB PATCHes
        string file = Path.Combine(server.Root, "pack.bin");
        await File.WriteAllBytesAsync(file, pack);
        string tools = await MerkleSync.Testing.TestTools.NpmToolAsync("tus-client-test", Path.Combine("node_modules", "tus-js-client", "package.json"));

        string output = await RunAsync("node", ["upload.mjs", uploads, file], tools);

        Assert.StartsWith(uploads, output.Trim(), StringComparison.Ordinal);
        foreach (var entry in summary.Entries)
        {
            Assert.True(await HasChunkAsync(client, server, entry.ChunkHash));
        }
    }

    private static async Task<string> RunAsync(string program, string[] args, string directory)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {await stderr}");
        return await stdout;
    }
}
