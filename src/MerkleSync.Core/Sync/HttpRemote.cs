using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Serialization;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Core.Tree;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace MerkleSync.Core.Sync;

/// <summary>
/// A repository behind a MerkleSync server (<c>http(s)://host:port/DATASET</c>). Transient failures
/// (timeouts, 429 with Retry-After, 5xx) are retried by a resilience pipeline with exponential
/// backoff and jitter; other 4xx are final. Every byte read is verified before use.
/// </summary>
public sealed partial class HttpRemote : IRemote
{
    private readonly HttpClient _http;
    private readonly WireCounter _wire;
    private long _retries;
    private long _throttles;
    private readonly string _api;

    public HttpRemote(Uri url, string? token, HttpMessageHandler? transport = null, TimeSpan? stallTimeout = null, string? caCertFile = null)
    {
        string path = url.AbsolutePath.TrimEnd('/');
        int split = path.LastIndexOf('/');
        string dataset = path[(split + 1)..];
        if (dataset.Length == 0)
        {
            throw new InvalidInputException($"'{url}' names no dataset; use http://host:port/DATASET.");
        }

        Url = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _api = $"{url.GetLeftPart(UriPartial.Authority)}{path[..split]}/v1/datasets/{dataset}";
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = 6,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(200),
            ShouldRetryAfterHeader = true,
            // A certificate problem or a full server disk will not fix itself; everything else transient is retried.
            ShouldHandle = args => args.Outcome.Exception is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }
                || args.Outcome.Result?.StatusCode is HttpStatusCode.InsufficientStorage
                ? ValueTask.FromResult(false)
                : ValueTask.FromResult(HttpClientResiliencePredicates.IsTransient(args.Outcome)),
            OnRetry = args =>
            {
                Interlocked.Increment(ref _retries);
                if (args.Outcome.Result?.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                {
                    Interlocked.Increment(ref _throttles);
                }

                return ValueTask.CompletedTask;
            },
        };
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(retry)
            .AddTimeout(TimeSpan.FromMinutes(5))
            .Build();
        _wire = new WireCounter(transport ?? CreateTransport(caCertFile));
        var watchdog = new TransferWatchdog(_wire, stallTimeout ?? TransferWatchdog.DefaultStallTimeout);
        _http = new HttpClient(new ResilienceHandler(pipeline) { InnerHandler = watchdog })
        {
            Timeout = Timeout.InfiniteTimeSpan, // the pipeline's timeout applies per attempt chain
        };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        Nodes = new RemoteNodes(this);
    }

    public string Url { get; }

    public ITreeNodeStore Nodes { get; }

    public ValueTask PrefetchTreeAsync(Hash root, CancellationToken cancellationToken) => ((RemoteNodes)Nodes).PrefetchAsync(root, cancellationToken);

    /// <summary>TLS 1.2+ only; trusts the system store, plus <paramref name="caCertFile"/> (PEM) as an extra root if given.</summary>
    private static SocketsHttpHandler CreateTransport(string? caCertFile)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        handler.SslOptions.EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
        if (caCertFile is not null)
        {
            var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(caCertFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == System.Net.Security.SslPolicyErrors.None)
                {
                    return true;
                }

                if (errors != System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
                {
                    return false; // a name mismatch or no certificate is never accepted
                }

                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return chain.Build(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            };
        }

        return handler;
    }

    public (long Sent, long Received) WireBytes => (_wire.Sent, _wire.Received);

    public (long Retries, long Throttles) Retries => (Interlocked.Read(ref _retries), Interlocked.Read(ref _throttles));

    /// <summary>Creates the dataset on the server.</summary>
    public async Task CreateAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(_api, null, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<VersionRef?> GetBranchAsync(string branch, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"{_api}/branches/{RefName.Branch(branch).Name}", cancellationToken).ConfigureAwait(false);
        var json = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return json is JsonObject answer && answer["record"] is null ? null : WireFormat.ParseVersion(json);
    }

    public async ValueTask<VersionRef> ResolveAsync(string spec, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"{_api}/resolve/{Uri.EscapeDataString(spec)}", cancellationToken).ConfigureAwait(false);
        return WireFormat.ParseVersion(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<IReadOnlyList<VersionRef>> HistoryAsync(Hash head, int max, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"{_api}/history/{head}?max={max}", cancellationToken).ConfigureAwait(false);
        // Each record hashes to its id (ParseVersion); a record's parent need not be the next one,
        // as the history steps over forgotten versions.
        return [.. WireFormat.JsonList(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false)).Select(WireFormat.ParseVersion)];
    }

    public async ValueTask<IReadOnlyList<(RefName Name, Hash Id)>> ListRefsAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"{_api}/refs", cancellationToken).ConfigureAwait(false);
        return [.. WireFormat.JsonList(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false)).Select(r => (RefOf(r), WireFormat.JsonHash(r, "record")))];
    }

    private static RefName RefOf(JsonNode? json) => new(WireFormat.JsonString(json, "kind") == "tag", WireFormat.JsonString(json, "name"));

    public async ValueTask<IReadOnlyList<DroppedRef>> ListDroppedAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"{_api}/dropped", cancellationToken).ConfigureAwait(false);
        return [.. WireFormat.JsonList(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false)).Select(r =>
            new DroppedRef(RefOf(r), WireFormat.JsonHash(r, "record"), WireFormat.JsonLong(r, "left_at_ms") is var ms && UnixTime.FromMilliseconds(ms) is { } leftAt
                ? leftAt
                : throw new CorruptDataException($"'left_at_ms' in the server's JSON is not a time: {ms}.")))];
    }

    public ValueTask<bool[]> HaveFilesAsync(IReadOnlyList<Hash> files, CancellationToken cancellationToken) => HaveAsync("files", files, cancellationToken);

    public ValueTask<bool[]> HaveChunksAsync(IReadOnlyList<Hash> chunks, CancellationToken cancellationToken) => HaveAsync("chunks", chunks, cancellationToken);

    public ValueTask<bool[]> HaveNodesAsync(IReadOnlyList<Hash> nodes, CancellationToken cancellationToken) => HaveAsync("nodes", nodes, cancellationToken);

    /// <summary>In bodies of about <see cref="WireFormat.StoreBatchBytes"/>, one after another.</summary>
    public async ValueTask StoreFilesAsync(IReadOnlyList<NewFile> files, CancellationToken cancellationToken)
    {
        foreach (var batch in WireFormat.Batches(files, WireFormat.FileBound))
        {
            await PostBinaryAsync("files", WireFormat.EncodeFiles(batch), cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask StoreNodesAsync(IReadOnlyList<KeyValuePair<Hash, byte[]>> nodes, CancellationToken cancellationToken)
    {
        foreach (var batch in WireFormat.Batches(nodes, WireFormat.NodeBound))
        {
            await PostBinaryAsync("nodes", WireFormat.EncodeNodes(batch), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Posts a hash list to <paramref name="endpoint"/>; the answer succeeded, and the caller disposes it.</summary>
    private async Task<HttpResponseMessage> PostHashesAsync(string endpoint, IReadOnlyList<Hash> hashes, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(WireFormat.EncodeHashes(hashes));
        content.Headers.ContentType = new MediaTypeHeaderValue(WireFormat.BinaryType);
        var response = await _http.PostAsync($"{_api}/{endpoint}", content, cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private async Task PostBinaryAsync(string endpoint, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(WireFormat.BinaryType);
        using var response = await _http.PostAsync($"{_api}/{endpoint}", content, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<VersionRef> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(WireFormat.EncodePublish(request));
        content.Headers.ContentType = new MediaTypeHeaderValue(WireFormat.BinaryType);
        using var response = await _http.PostAsync($"{_api}/publish", content, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Conflict && await GetBranchAsync(request.Branch, cancellationToken).ConfigureAwait(false) is { } head
            && head.Record.Root == request.Root && head.Record.Parent == (request.ExpectedHead ?? Hash.Zero))
        {
            return head; // a retry after a lost response found our own publish
        }

        return WireFormat.ParseVersion(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Asks for up to <see cref="WireFormat.MaxPlansPerRequest"/> plans at a time; the server answers
    /// a prefix of what it was asked (bounded in bytes), and the rest is asked for again.
    /// </summary>
    public async ValueTask<IReadOnlyList<FileReconstruction>> GetReconstructionsAsync(IReadOnlyList<Hash> fileHashes, CancellationToken cancellationToken)
    {
        var plans = new List<FileReconstruction>(fileHashes.Count);
        while (plans.Count < fileHashes.Count) // each answer has at least one plan
        {
            var asked = fileHashes.Skip(plans.Count).Take(WireFormat.MaxPlansPerRequest).ToList();
            using var response = await PostHashesAsync("files/reconstructions", asked, cancellationToken).ConfigureAwait(false);
            plans.AddRange(WireFormat.DecodeReconstructions(Body(response).Span, asked));
        }

        return plans;
    }

    /// <summary>
    /// One ranged GET for a run of chunks. A server that ignores Range (200 with the whole pack)
    /// is read up to the range; a short body is an error; every chunk is verified before use.
    /// </summary>
    public async ValueTask ReadChunksAsync(Hash packId, ReadOnlyMemory<PackEntry> run, Func<PackEntry, ReadOnlyMemory<byte>, ValueTask> onChunk, CancellationToken cancellationToken)
    {
        if (run.IsEmpty)
        {
            return;
        }

        long start = run.Span[0].Offset;
        long end = run.Span[^1].Offset + run.Span[^1].StoredLength;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{_api}/packs/{packId}");
        request.Headers.Range = new RangeHeaderValue(start, end - 1);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        long skip = response.StatusCode == HttpStatusCode.PartialContent
            ? (response.Content.Headers.ContentRange?.From == start ? 0 : throw new CorruptDataException($"Pack {packId}: the server answered a different range."))
            : start;
        int length = (int)(end - start);
        var body = Body(response);
        if (body.Length < skip + length)
        {
            throw new CorruptDataException($"Pack {packId}: the server's body ended early ({body.Length} of {skip + length} bytes).");
        }

        var range = body.Slice((int)skip, length);
        byte[] raw = ArrayPool<byte>.Shared.Rent(Chunking.ChunkingParameters.MaximumChunkSize);
        try
        {
            foreach (var entry in run.ToArray())
            {
                var stored = range.Slice((int)(entry.Offset - start), entry.StoredLength);
                await onChunk(entry, PackReader.DecodeFromPack(packId, entry, stored, raw)).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    public ValueTask UpdateTagAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        UpdateRefAsync(RefName.Tag(name), target, expected, cancellationToken);

    public ValueTask UpdateBranchAsync(string name, Hash? target, Hash? expected, CancellationToken cancellationToken) =>
        UpdateRefAsync(RefName.Branch(name), target, expected, cancellationToken);

    private async ValueTask UpdateRefAsync(RefName name, Hash? target, Hash? expected, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["record"] = target?.ToString(), ["expected"] = expected?.ToString() };
        using var response = await _http.PutAsync($"{_api}/{(name.IsTag ? "tags" : "branches")}/{name.Name}", JsonContent(body), cancellationToken).ConfigureAwait(false);
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs garbage collection on the server (write access).</summary>
    public async Task<GcReport> CollectGarbageAsync(TimeSpan grace, bool dryRun, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(
            $"{_api}/gc?graceSeconds={grace.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}&dryRun={(dryRun ? "true" : "false")}", null, cancellationToken).ConfigureAwait(false);
        return WireFormat.ParseGc(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Forgets the versions <paramref name="policy"/> does not keep, on the server (write access); with <paramref name="prune"/>, a gc follows there.</summary>
    public async Task<ForgetReport> ForgetAsync(ForgetPolicy policy, bool dryRun, TimeSpan? prune, CancellationToken cancellationToken)
    {
        policy.Validate(); // before any request: the server would refuse it anyway
        var query = new List<string> { $"dryRun={(dryRun ? "true" : "false")}" };
        foreach (var (name, count) in new[] { ("keepLast", policy.KeepLast), ("keepHourly", policy.KeepHourly), ("keepDaily", policy.KeepDaily), ("keepWeekly", policy.KeepWeekly), ("keepMonthly", policy.KeepMonthly), ("keepYearly", policy.KeepYearly) })
        {
            if (count is { } n)
            {
                query.Add($"{name}={n.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
        }

        if (policy.KeepWithin is { } within)
        {
            query.Add($"keepWithinSeconds={within.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        query.AddRange((policy.Branches ?? []).Select(b => $"branch={Uri.EscapeDataString(b)}"));
        if (prune is { } grace)
        {
            query.Add($"pruneGraceSeconds={grace.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        using var response = await _http.PostAsync($"{_api}/forget?{string.Join('&', query)}", null, cancellationToken).ConfigureAwait(false);
        return WireFormat.ParseForget(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Ids of every pack the server has indexed, in pages of at most <see cref="WireFormat.MaxHashesPerRequest"/>.
    /// Each page must go on in ascending order from the last: a server that repeats itself cannot keep this going.
    /// </summary>
    public async IAsyncEnumerable<Hash> ListPackIdsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Hash? after = null;
        while (true)
        {
            using var response = await _http.GetAsync($"{_api}/packs{(after is { } last ? $"?after={last}" : "")}", cancellationToken).ConfigureAwait(false);
            await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
            var page = WireFormat.DecodeHashes(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (page.Length == 0)
            {
                yield break;
            }

            foreach (var id in page)
            {
                if (after is { } previous && id.CompareTo(previous) <= 0)
                {
                    throw new CorruptDataException("The server's list of packs is not in ascending order.");
                }

                after = id;
                yield return id;
            }
        }
    }

    /// <summary>Has the server salvage a damaged pack (write access); see <see cref="Repository.Repository.RepairPackAsync"/>.</summary>
    public async Task<PackRepairReport> RepairPackAsync(Hash packId, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync($"{_api}/packs/{packId}/repair", null, cancellationToken).ConfigureAwait(false);
        var report = WireFormat.ParseRepair(await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false));
        return report.PackId == packId ? report : throw new CorruptDataException($"The server answered a repair of pack {packId} with a report on {report.PackId}.");
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<bool[]> HaveAsync(string kind, IReadOnlyList<Hash> hashes, CancellationToken cancellationToken)
    {
        var have = new bool[hashes.Count];
        for (int start = 0; start < hashes.Count; start += WireFormat.MaxHashesPerRequest)
        {
            var batch = hashes.Skip(start).Take(WireFormat.MaxHashesPerRequest).ToList();
            using var response = await PostHashesAsync($"missing/{kind}", batch, cancellationToken).ConfigureAwait(false);
            WireFormat.DecodeHave(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false), batch.Count).CopyTo(have, start);
        }

        return have;
    }

    /// <summary>
    /// A response's body as the transfer watchdog read it, without another copy. Requests whose
    /// bodies can be large ask HttpClient for headers only: by default it would buffer the body a
    /// second time, into arrays grown by doubling (about 1 GB of garbage per GiB pulled).
    /// </summary>
    private static ReadOnlyMemory<byte> Body(HttpResponseMessage response) =>
        response.Content is TransferWatchdog.BufferedContent body ? body.Bytes : throw new InvalidOperationException("Responses are buffered by the transfer watchdog.");

    private static StringContent JsonContent(JsonNode node) => new(node.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (JsonException e)
        {
            throw new CorruptDataException($"The server answered JSON that does not parse: {e.Message}");
        }
    }

    /// <summary>
    /// Turns an error status into the engine's exception for it, with the server's message. An
    /// answer that is not from a MerkleSync server of this protocol version is refused, and an
    /// error that is not from one says so: a mistyped port or a proxy's error page otherwise shows
    /// as a puzzling "404: File not found" or a parse error.
    /// </summary>
    private static Task EnsureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string? protocol = response.Headers.TryGetValues(WireFormat.ProtocolHeader, out var values) ? values.FirstOrDefault() : null;
        string server = response.RequestMessage?.RequestUri?.GetLeftPart(UriPartial.Authority) ?? "the server";
        if (protocol is not null && protocol != WireFormat.ProtocolVersion)
        {
            throw new InvalidInputException($"{server} speaks MerkleSync protocol {protocol}, this client protocol {WireFormat.ProtocolVersion}: use a client of the server's release.");
        }

        if (response.IsSuccessStatusCode)
        {
            return protocol is not null ? Task.CompletedTask : throw new InvalidInputException(
                $"{server} answered without the {WireFormat.ProtocolHeader} header: it is not a MerkleSync server. Check the URL, and any proxy in front of the server.");
        }

        return ThrowForStatusAsync(response, protocol is null ? $" (the answer has no {WireFormat.ProtocolHeader} header: is {server} a MerkleSync server?)" : "", cancellationToken);
    }

    private static async Task ThrowForStatusAsync(HttpResponseMessage response, string hint, CancellationToken cancellationToken)
    {
        string? message = null;
        try
        {
            // {"error": "..."} from our server; anything else (a page, other JSON) says only its status.
            if (JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)) is JsonObject body
                && body["error"] is JsonValue error && error.TryGetValue(out string? text))
            {
                message = text;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }

        message ??= response.ReasonPhrase ?? "";
        string said = $"server answered {(int)response.StatusCode}: {message}{hint}";
        throw (int)response.StatusCode switch
        {
            400 or 413 or 460 => new InvalidInputException(said),
            401 => new InvalidInputException($"{said}. Set MERKLESYNC_TOKEN to a token the server knows."),
            403 => new InvalidInputException(said),
            404 => new NotFoundException(said),
            409 => new ConflictException(said),
            422 => new CorruptDataException(said),
            507 => new OutOfSpaceException(said),
            >= 500 => new ServerErrorException(said),
            _ => new IOException(said),
        };
    }

    /// <summary>The server answered with a 5xx status: the resilience pipeline has retried it already.</summary>
    private sealed class ServerErrorException(string message) : IOException(message);

    private sealed class RemoteNodes(HttpRemote remote) : ITreeNodeStore
    {
        private readonly ConcurrentDictionary<Hash, byte[]> _cache = new();

        public async ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken)
        {
            if (_cache.TryGetValue(id, out var cached))
            {
                return cached;
            }

            using var response = await remote._http.GetAsync($"{remote._api}/nodes/{id}", HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
            byte[] bytes = Body(response).ToArray();
            if (TreeFormat.NodeId(bytes) != id)
            {
                throw new CorruptDataException($"Server sent bytes for tree node {id} that hash to something else.");
            }

            _cache[id] = bytes;
            return bytes;
        }

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        /// <summary>
        /// Breadth first: each level's nodes name the next level's, which come in one lookup (or a few).
        /// A tree has at most 33 levels (section 4.2); reading it checks the levels themselves.
        /// </summary>
        public async ValueTask PrefetchAsync(Hash root, CancellationToken cancellationToken)
        {
            List<Hash> level = [root];
            for (int depth = 0; level.Count > 0 && depth <= TreeFormat.MaxLevel; depth++)
            {
                await LookupAsync([.. level.Where(id => !_cache.ContainsKey(id)).Distinct()], cancellationToken).ConfigureAwait(false);
                // Inner nodes only: a leaf (level byte 0) names no nodes, and most nodes are leaves.
                level = [.. level.Select(id => _cache[id]).Where(bytes => bytes.Length > 1 && bytes[1] != 0)
                    .SelectMany(bytes => TreeNode.Decode(bytes).Children.Select(child => child.NodeId))];
            }
        }

        private async ValueTask LookupAsync(List<Hash> ids, CancellationToken cancellationToken)
        {
            for (int done = 0; done < ids.Count;) // each answer has at least one node
            {
                var asked = ids.Skip(done).Take(WireFormat.MaxHashesPerRequest).ToList();
                using var response = await remote.PostHashesAsync("nodes/lookup", asked, cancellationToken).ConfigureAwait(false);
                foreach (var (id, bytes) in WireFormat.DecodeNodeLookup(Body(response).Span, asked))
                {
                    _cache[id] = bytes;
                    done++;
                }
            }
        }
    }
}
