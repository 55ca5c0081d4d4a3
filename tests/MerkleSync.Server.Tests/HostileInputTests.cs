using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Core.Tree;
using MerkleSync.Testing;

namespace MerkleSync.Server.Tests;

/// <summary>
/// Every endpoint fed garbage: random and mutated bodies, odd path segments, ranges and tus headers.
/// Each gets an answer below 500, and afterwards the server still serves the version it had,
/// unchanged and whole.
/// </summary>
public class HostileInputTests : FolderTests
{
    private const int MutationsPerBody = 150;

    private static readonly CancellationToken None = CancellationToken.None;

    private static readonly string[] OddSegments =
    [
        "x", "..", "%2e%2e", "%2F", "%00", "%ff", " ", "main~", "main~99999999999", "main^", "~1", ":",
        "v:", "t:", new('a', 64), new('f', 63), new('0', 65), new('z', 5000), "é😀", "-1", "0",
    ];

    private static readonly string[] OddJson =
    [
        "", "null", "[]", "{}", "{\"record\":5}", "{\"record\":\"zz\"}", "{\"record\":null,\"expected\":[1]}",
        "{\"record\":\"" + new string('0', 64) + "\"}", new string('[', 5000) + new string(']', 5000), "{\"record\":", "\u0000",
    ];

    private static readonly string[] OddRanges =
    [
        "bytes=abc", "bytes=5-2", "bytes=-0", "bytes=0-", "bytes=99999999999-", "bytes=0-1,5-6", "bytes=-99999999999999999999",
        "bytes=0-99999999999999999999", "items=0-5", "bytes=", "bytes=--1",
    ];

    private static readonly string[] OddNumbers = ["-1", "abc", "", "99999999999999999999", "9223372036854775807", "1e3", "0x10", " 5", "NaN", "Infinity", "-Infinity"];

    [Fact]
    public async Task Garbage_to_every_endpoint_gets_a_4xx_never_a_5xx_and_the_server_keeps_its_version_whole()
    {
        await using var server = await TestServer.StartAsync();
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "a/big.bin", Files.Random(1, 300_000));
        Files.Write(source, "b/small.txt", "hello"u8.ToArray());
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        var pushed = await PushOperation.PushAsync(source, remote, new PushOptions(), None);
        string packId = PackIdsOnDisk(server.Root).First();

        using var http = new HttpClient();
        http.DefaultRequestHeaders.Add("Tus-Resumable", "1.0.0");
        string api = $"{server.BaseUrl}/v1/datasets/ds";
        var random = new Random(20261203);
        var failures = new List<string>();
        int requests = 0;

        string? lastLocation = null;
        async Task<HttpStatusCode> SendAsync(HttpMethod method, string url, byte[]? body = null, Action<HttpRequestMessage>? headers = null)
        {
            using var request = new HttpRequestMessage(method, url);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
            }

            headers?.Invoke(request);
            using var response = await http.SendAsync(request);
            requests++;
            lastLocation = response.Headers.Location is { } location ? new Uri(new Uri(api), location).ToString() : null;
            if ((int)response.StatusCode >= 500)
            {
                string answer = await response.Content.ReadAsStringAsync();
                failures.Add($"{method} {url[..Math.Min(url.Length, 160)]} ({body?.Length ?? 0} bytes): {(int)response.StatusCode} {answer[..Math.Min(answer.Length, 300)]}");
            }

            return response.StatusCode;
        }

        // Binary bodies: random, truncated, flipped, extended and varint-smashed versions of valid ones.
        var chunk = new ChunkRef(XetHashes.ChunkHash("a chunk"u8), 7);
        byte[] leaf = TreeNode.Leaf([new TreeEntry("x", XetHashes.FileHash([chunk]), 7, EntryMode.Regular)]).Encode();
        var validBodies = new (string Endpoint, byte[] Body)[]
        {
            ("missing/files", WireFormat.EncodeHashes([pushed.Root, chunk.Hash])),
            ("missing/chunks", WireFormat.EncodeHashes([chunk.Hash])),
            ("missing/nodes", WireFormat.EncodeHashes([pushed.Root])),
            ("nodes/lookup", WireFormat.EncodeHashes([pushed.Root])),
            ("files/reconstructions", WireFormat.EncodeHashes([chunk.Hash])),
            ("files", WireFormat.EncodeFiles([new NewFile(XetHashes.FileHash([chunk, chunk]), [chunk, chunk])]).ToArray()),
            ("nodes", WireFormat.EncodeNodes([new(TreeFormat.NodeId(leaf), leaf)]).ToArray()),
            ("publish", WireFormat.EncodePublish(new PublishRequest("main", pushed.VersionId, TreeFormat.NodeId(leaf), "me", "hostile"))),
        };
        foreach (var (endpoint, body) in validBodies)
        {
            for (int i = 0; i < MutationsPerBody; i++)
            {
                await SendAsync(HttpMethod.Post, $"{api}/{endpoint}", Damage.Apply(random, body));
            }
        }

        // Packs: a valid one, mutated, uploaded whole through tus; the pack's checks answer, not an exception.
        byte[] pack = await MakePackAsync();
        for (int i = 0; i < MutationsPerBody; i++)
        {
            byte[] mutated = Damage.Apply(random, pack);
            if (await SendAsync(HttpMethod.Post, $"{api}/uploads", headers: r => r.Headers.Add("Upload-Length", mutated.Length.ToString(CultureInfo.InvariantCulture)))
                is not HttpStatusCode.Created)
            {
                continue; // an empty body, say; the answer was checked above
            }

            string upload = lastLocation!;
            await SendAsync(HttpMethod.Patch, upload, mutated, r =>
            {
                r.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
                r.Headers.Add("Upload-Offset", "0");
            });
        }

        // Odd path segments, query values, JSON bodies, ranges and tus headers.
        foreach (string odd in OddSegments)
        {
            foreach (string path in new[] { "nodes/", "history/", "resolve/", "files/", "packs/", "branches/", "tags/", "uploads/" })
            {
                await SendAsync(HttpMethod.Get, $"{api}/{path}{odd}");
            }

            await SendAsync(HttpMethod.Post, $"{api}/missing/{odd}", WireFormat.EncodeHashes([chunk.Hash]));
            await SendAsync(HttpMethod.Post, $"{api}/packs/{odd}/repair");
            await SendAsync(HttpMethod.Get, $"{api}/packs?after={Uri.EscapeDataString(odd)}");
            await SendAsync(HttpMethod.Put, $"{api}/branches/{odd}", Encoding.UTF8.GetBytes("{\"record\":null}"));
            await SendAsync(HttpMethod.Put, $"{api}/tags/{odd}", Encoding.UTF8.GetBytes("{\"record\":\"" + pushed.VersionId + "\"}"));
            await SendAsync(HttpMethod.Head, $"{api}/uploads/{odd}");
            await SendAsync(HttpMethod.Delete, $"{api}/uploads/{odd}");
            await SendAsync(HttpMethod.Get, $"{server.BaseUrl}/v1/datasets/{odd}/refs");
            await SendAsync(HttpMethod.Post, $"{server.BaseUrl}/v1/datasets/{odd}x");
        }

        foreach (string number in OddNumbers)
        {
            await SendAsync(HttpMethod.Get, $"{api}/history/{pushed.VersionId}?max={Uri.EscapeDataString(number)}");
            await SendAsync(HttpMethod.Post, $"{api}/gc?graceSeconds={Uri.EscapeDataString(number)}");
            await SendAsync(HttpMethod.Post, $"{api}/uploads", headers: r => r.Headers.TryAddWithoutValidation("Upload-Length", number));
            await SendAsync(HttpMethod.Post, $"{api}/uploads", headers: r => r.Headers.TryAddWithoutValidation("Upload-Defer-Length", number));
            if (await SendAsync(HttpMethod.Post, $"{api}/uploads", headers: r => r.Headers.Add("Upload-Defer-Length", "1")) is HttpStatusCode.Created)
            {
                string upload = lastLocation!;
                foreach (var (offset, length, checksum) in new[] { (number, "10", "sha1 AAAA"), ("0", number, "sha1"), ("0", "4", number), ("0", "4", "md5 " + number), ("0", "4", "sha256 AAAA") })
                {
                    await SendAsync(HttpMethod.Patch, upload, [1, 2, 3, 4], r =>
                    {
                        r.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
                        r.Headers.TryAddWithoutValidation("Upload-Offset", offset);
                        r.Headers.TryAddWithoutValidation("Upload-Length", length);
                        r.Headers.TryAddWithoutValidation("Upload-Checksum", checksum);
                    });
                }

                await SendAsync(HttpMethod.Delete, upload);
            }
        }

        foreach (string json in OddJson)
        {
            await SendAsync(HttpMethod.Put, $"{api}/branches/main", Encoding.UTF8.GetBytes(json));
            await SendAsync(HttpMethod.Put, $"{api}/tags/t1", Encoding.UTF8.GetBytes(json));
        }

        await SendAsync(HttpMethod.Post, $"{api}/packs/{packId}/repair"); // intact: left as it is
        foreach (string range in OddRanges)
        {
            await SendAsync(HttpMethod.Get, $"{api}/packs/{packId}", headers: r => r.Headers.TryAddWithoutValidation("Range", range));
            await SendAsync(HttpMethod.Get, $"{api}/packs/{packId}", headers: r =>
            {
                r.Headers.TryAddWithoutValidation("Range", range);
                r.Headers.TryAddWithoutValidation("If-Range", "\"nonsense\"");
            });
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {requests} requests got a 5xx:\n" + string.Join('\n', failures.Take(20)));
        Assert.Equal("ok\n", await http.GetStringAsync($"{server.BaseUrl}/healthz"));
        var refs = await remote.ListRefsAsync(None);
        Assert.Equal(pushed.VersionId, Assert.Single(refs, r => !r.Name.IsTag).Id);
        await PullOperation.PullAsync(remote, target, new PullOptions(), None);
        Files.AssertSameTree(source, target);
    }

    /// <summary>
    /// Packs that lie with every checksum right, as a hostile client would send them: what random
    /// damage rarely reaches (CRCs catch it first). Each is refused with a 4xx and indexes nothing,
    /// or (a chunk twice, no chunks) accepted as what it is; none gets a 5xx.
    /// </summary>
    [Fact]
    public async Task Packs_that_lie_with_every_checksum_right_are_refused_and_index_nothing()
    {
        await using var server = await TestServer.StartAsync();
        await using var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), token: null);
        await remote.CreateAsync(None);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Add("Tus-Resumable", "1.0.0");
        string uploads = $"{server.BaseUrl}/v1/datasets/ds/uploads";

        byte[] text = Files.Text(50, 30_000), zeros = new byte[100_000], random = Files.Random(51, 20_000);
        byte[] lz4Text = Encode(text, Compression.Lz4), lz4Zeros = Encode(zeros, Compression.Lz4), zstdText = Encode(text, Compression.Zstd);
        Frame Raw(byte[] raw) => new(XetHashes.ChunkHash(raw), Codec.None, raw, raw.Length);
        var cases = new (string Name, byte[] Pack, bool MayBeAccepted)[]
        {
            ("LZ4 that inflates past the raw length it claims", Craft([new(XetHashes.ChunkHash(zeros), Codec.Lz4, lz4Zeros, 1_000)]), false),
            ("LZ4 that inflates to less than the raw length it claims", Craft([new(XetHashes.ChunkHash(text), Codec.Lz4, lz4Text, 60_000)]), false),
            ("zstd bytes labelled LZ4", Craft([new(XetHashes.ChunkHash(text), Codec.Lz4, zstdText, text.Length)]), false),
            ("random bytes labelled zstd", Craft([new(XetHashes.ChunkHash(text), Codec.Zstd, random, text.Length)]), false),
            ("an unknown codec", Craft([new(XetHashes.ChunkHash(text), (Codec)3, lz4Text, text.Length)]), false),
            ("a chunk under another chunk's hash", Craft([new(XetHashes.ChunkHash(text), Codec.None, random, random.Length)]), false),
            ("a raw length above the largest chunk", Craft([new(XetHashes.ChunkHash(random), Codec.Lz4, Encode(Files.Text(52, 140_000), Compression.Lz4), 140_000)]), false),
            ("an index whose entries come in another order", Craft([Raw(random), Raw(text)], entries => [entries[1], entries[0]]), false),
            ("an index that leaves a chunk out", Craft([Raw(random), Raw(text)], entries => [entries[0]]), false),
            ("an index that names a chunk twice", Craft([Raw(random)], entries => [entries[0], entries[0]]), false),
            ("an index that claims more entries than it holds", Craft([Raw(random)], indexCount: 1_000_000), false),
            ("an index length past the pack's start", Craft([Raw(random)], indexLength: int.MaxValue), false),
            ("a negative index length", Craft([Raw(random)], indexLength: -8), false),
            ("the same chunk twice", Craft([Raw(random), Raw(random)]), true),
            ("no chunks", Craft([]), true),
        };

        var answers = new List<string>();
        var accepted = new HashSet<string>();
        foreach (var (name, pack, mayBeAccepted) in cases)
        {
            using var create = new HttpRequestMessage(HttpMethod.Post, uploads);
            create.Headers.Add("Upload-Length", pack.Length.ToString(CultureInfo.InvariantCulture));
            using var created = await http.SendAsync(create);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(new Uri(uploads), created.Headers.Location!)) { Content = new ByteArrayContent(pack) };
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
            patch.Headers.Add("Upload-Offset", "0");
            using var answer = await http.SendAsync(patch);
            int status = (int)answer.StatusCode;
            if (status < 300)
            {
                accepted.Add(name);
            }

            if (status >= 500 || (status < 400 && !mayBeAccepted))
            {
                answers.Add($"{name}: {status} {await answer.Content.ReadAsStringAsync()}");
            }
        }

        Assert.True(answers.Count == 0, "answers not as expected:\n" + string.Join('\n', answers));
        // Only what an accepted pack held may be indexed; every lie's chunks stay unknown.
        Assert.Equal([false, false, accepted.Contains("the same chunk twice")], await remote.HaveChunksAsync([XetHashes.ChunkHash(text), XetHashes.ChunkHash(zeros), XetHashes.ChunkHash(random)], None));
    }

    private sealed record Frame(Hash Hash, Codec Codec, byte[] Stored, int RawLength);

    private static byte[] Encode(byte[] raw, Compression compression)
    {
        byte[] stored = new byte[raw.Length];
        var (codec, length) = ChunkCodec.Encode(raw, stored, compression);
        Assert.NotEqual(Codec.None, codec);
        return stored[..length];
    }

    /// <summary>
    /// A pack of <paramref name="frames"/> as they are, with an index of them (or what
    /// <paramref name="lie"/> makes of it) and a trailer whose CRC is right for that index.
    /// </summary>
    private static byte[] Craft(Frame[] frames, Func<PackEntry[], PackEntry[]>? lie = null, int? indexCount = null, int? indexLength = null)
    {
        using var pack = new MemoryStream();
        pack.Write(PackFormat.HeaderMagic);
        var entries = new List<PackEntry>();
        byte[] header = new byte[PackFormat.FrameHeaderLength];
        foreach (var frame in frames)
        {
            PackFormat.WriteFrameHeader(header, frame.Codec, frame.Stored.Length, frame.RawLength);
            pack.Write(header);
            entries.Add(new PackEntry(frame.Hash, pack.Position, frame.Stored.Length, frame.RawLength, frame.Codec, Crc32C.Compute(frame.Stored)));
            pack.Write(frame.Stored);
        }

        pack.Write(new byte[PackFormat.FrameHeaderLength]);
        byte[] index = PackFormat.EncodeIndex(lie is null ? entries : lie([.. entries]));
        if (indexCount is { } count)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(index, count);
        }

        byte[] trailer = new byte[PackFormat.TrailerLength];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(trailer, indexLength ?? index.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), Crc32C.Compute(index));
        PackFormat.TrailerMagic.CopyTo(trailer.AsSpan(8));
        pack.Write(index);
        pack.Write(trailer);
        return pack.ToArray();
    }

    private static async Task<byte[]> MakePackAsync()
    {
        using var stream = new MemoryStream();
        var writer = new PackWriter(stream);
        foreach (int seed in new[] { 41, 42, 43 })
        {
            byte[] chunk = Files.Random(seed, 9_000 + seed);
            await writer.AddAsync(XetHashes.ChunkHash(chunk), chunk, None);
        }

        // Compressible chunks, one per codec, so that the decoders see mutated input too.
        foreach (var (seed, compression) in new[] { (44, Compression.Lz4), (45, Compression.Zstd) })
        {
            byte[] text = Files.Text(seed, 30_000), stored = new byte[text.Length];
            var (codec, length) = ChunkCodec.Encode(text, stored, compression);
            Assert.NotEqual(Codec.None, codec);
            await writer.AddEncodedAsync(XetHashes.ChunkHash(text), text.Length, codec, stored.AsMemory(0, length), Crc32C.Compute(stored.AsSpan(0, length)), None);
        }

        await writer.FinishAsync(None);
        return stream.ToArray();
    }

    private static IEnumerable<string> PackIdsOnDisk(string root) =>
        Directory.EnumerateFiles(root, "*.pack", SearchOption.AllDirectories).Select(path => Path.GetFileNameWithoutExtension(path));
}
