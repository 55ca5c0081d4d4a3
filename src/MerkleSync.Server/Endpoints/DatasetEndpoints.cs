using System.Text.Json.Nodes;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Server.Hosting;

namespace MerkleSync.Server.Endpoints;

/// <summary>The dataset API under <c>/v1/datasets/{dataset}</c> (docs/format.md, "Sync protocol").</summary>
internal static class DatasetEndpoints
{
    public static void Map(WebApplication app)
    {
        var ds = app.MapGroup("/v1/datasets/{dataset}");

        ds.MapPost("", async (string dataset, DatasetRegistry registry, CancellationToken ct) =>
        {
            await registry.CreateAsync(dataset, ct);
            return Results.Created($"/v1/datasets/{dataset}", new Dictionary<string, string> { ["dataset"] = dataset });
        });

        ds.MapGet("/refs", async (string dataset, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            return Results.Json(new JsonArray([.. repository.ListRefs().Select(r => RefJson(r.Name, r.Id))]));
        });

        ds.MapGet("/dropped", async (string dataset, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            return Results.Json(new JsonArray([.. repository.ListDropped().Select(d =>
            {
                var json = RefJson(d.Name, d.Id);
                json["left_at_ms"] = d.LeftAt.ToUnixTimeMilliseconds();
                return json;
            })]));
        });

        ds.MapGet("/branches/{*name}", async (string dataset, string name, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            // A missing branch is an answer, not an error: a first push starts one.
            return repository.GetRef(RefName.Branch(name)) is { } id
                ? Results.Json(WireFormat.VersionJson(new VersionRef(id, repository.GetVersion(id)!)))
                : Results.Json(new JsonObject { ["branch"] = name, ["record"] = null });
        });

        // Create, move (record set) or delete (record null) a branch or tag, by compare-and-swap on "expected".
        ds.MapPut("/branches/{*name}", async (string dataset, string name, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var body = await ReadSmallJsonAsync(context, ct);
            await repository.UpdateBranchAsync(name, OptionalHash(body, "record"), OptionalHash(body, "expected"), ct);
            return Results.NoContent();
        });

        ds.MapPut("/tags/{*name}", async (string dataset, string name, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var body = await ReadSmallJsonAsync(context, ct);
            await repository.UpdateTagAsync(name, OptionalHash(body, "record"), OptionalHash(body, "expected"), ct);
            return Results.NoContent();
        });

        ds.MapGet("/resolve/{*spec}", async (string dataset, string spec, DatasetRegistry registry, CancellationToken ct) =>
        {
            var (id, record) = (await registry.GetAsync(dataset, ct)).Resolve(spec);
            return Results.Json(WireFormat.VersionJson(new VersionRef(id, record)));
        });

        ds.MapGet("/history/{record}", async (string dataset, string record, int? max, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var history = repository.History(ParseHash(record)).Take(Math.Clamp(max ?? 100, 1, WireFormat.MaxHistoryPerRequest));
            return Results.Json(new JsonArray([.. history.Select(v => (JsonNode)WireFormat.VersionJson(new VersionRef(v.Id, v.Record)))]));
        });

        ds.MapPost("/missing/{kind}", async (string dataset, string kind, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            Func<IReadOnlyList<Hash>, bool[]> have = kind switch
            {
                "files" => repository.HaveFiles,
                "chunks" => repository.HaveChunks,
                "nodes" => repository.HaveNodes,
                _ => throw new NotFoundException($"Unknown kind '{kind}'; use files, chunks or nodes."),
            };
            var hashes = WireFormat.DecodeHashes(await ReadBodyAsync(context, WireFormat.MaxHashesPerRequest * Hash.Size, ct));
            return Results.Bytes(WireFormat.EncodeMissing(have(hashes)), WireFormat.BinaryType);
        });

        ds.MapPost("/files", async (string dataset, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            await repository.StoreFilesAsync(WireFormat.DecodeFiles(await ReadBodyAsync(context, WireFormat.MaxFilesBytes, ct)), ct);
            return Results.NoContent();
        });

        ds.MapPost("/nodes", async (string dataset, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            await repository.StoreNodesAsync(WireFormat.DecodeNodes(await ReadBodyAsync(context, WireFormat.MaxNodesBytes, ct)), ct);
            return Results.NoContent();
        });

        ds.MapPost("/publish", async (string dataset, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var request = WireFormat.DecodePublish(await ReadBodyAsync(context, WireFormat.MaxPublishBytes, ct));
            // Provenance comes from who authenticated, not from what the client claims.
            string author = context.Items[AccessLog.UserItem] as string is { } user && user != "-" && user != "anonymous" ? user : request.Author;
            (Hash Id, VersionRecord Record) published;
            try
            {
                published = await repository.PublishAsync(request with { Author = author }, ct);
            }
            catch (ConflictException)
            {
                ServerMetrics.PublishConflicts.Inc(1);
                throw;
            }

            ServerMetrics.Publishes.Inc(1);
            var (id, record) = published;
            return Results.Json(WireFormat.VersionJson(new VersionRef(id, record)));
        });

        ds.MapPost("/gc", async (string dataset, double? graceSeconds, bool? dryRun, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var report = await repository.CollectGarbageAsync(new GcOptions(Seconds(graceSeconds, "graceSeconds") ?? GcOptions.Default.Grace, DryRun: dryRun ?? false), ct);
            CountFreed(report);
            return Results.Json(WireFormat.GcJson(report));
        });

        ds.MapPost("/forget", async (string dataset, int? keepLast, double? keepWithinSeconds, int? keepHourly, int? keepDaily, int? keepWeekly, int? keepMonthly, int? keepYearly, [Microsoft.AspNetCore.Mvc.FromQuery] string[]? branch, bool? dryRun, double? pruneGraceSeconds, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var within = Seconds(keepWithinSeconds, "keepWithinSeconds");
            var prune = Seconds(pruneGraceSeconds, "pruneGraceSeconds");
            var report = await repository.ForgetAsync(new ForgetPolicy(keepLast, within, keepDaily, keepWeekly, keepMonthly, branch is { Length: > 0 } ? branch : null, keepHourly, keepYearly), dryRun ?? false, prune, ct);
            if (dryRun != true)
            {
                ServerMetrics.VersionsForgotten.Inc(report.Forgotten.Count);
            }

            if (report.Gc is { } gc)
            {
                CountFreed(gc);
            }

            return Results.Json(WireFormat.ForgetJson(report));
        });

        ds.MapGet("/packs", async (string dataset, string? after, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            return Results.Bytes(WireFormat.EncodeHashes(repository.ListPackIds(after is null ? null : ParseHash(after), WireFormat.MaxHashesPerRequest)), WireFormat.BinaryType);
        });

        ds.MapPost("/packs/{id}/repair", async (string dataset, string id, DatasetRegistry registry, CancellationToken ct) =>
        {
            var report = await (await registry.GetAsync(dataset, ct)).RepairPackAsync(ParseHash(id), ct);
            return Results.Json(WireFormat.RepairJson(report));
        });

        ds.MapGet("/nodes/{id}", async (string dataset, string id, DatasetRegistry registry, CancellationToken ct) =>
        {
            var node = await (await registry.GetAsync(dataset, ct)).Nodes.TryGetAsync(ParseHash(id), ct)
                ?? throw new NotFoundException($"Tree node {id} does not exist.");
            return Results.Bytes(node, WireFormat.BinaryType);
        });

        ds.MapPost("/nodes/lookup", async (string dataset, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var ids = WireFormat.DecodeHashes(await ReadBodyAsync(context, WireFormat.MaxHashesPerRequest * Hash.Size, ct));
            var nodes = new List<KeyValuePair<Hash, byte[]>>();
            long length = 0;
            foreach (var id in ids)
            {
                if (length >= WireFormat.ResponseBudget)
                {
                    break; // the client asks again for the rest
                }

                byte[] node = await repository.Nodes.TryGetAsync(id, ct) ?? throw new NotFoundException($"Tree node {id} does not exist.");
                nodes.Add(new(id, node));
                length += node.Length;
            }

            return Results.Bytes(WireFormat.EncodeNodes(nodes), WireFormat.BinaryType);
        });

        ds.MapGet("/files/{hash}", async (string dataset, string hash, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var plan = new LocalRemote(repository, "").Reconstruct(ParseHash(hash));
            return Results.Bytes(WireFormat.EncodeReconstruction(plan), WireFormat.BinaryType);
        });

        ds.MapPost("/files/reconstructions", async (string dataset, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var hashes = WireFormat.DecodeHashes(await ReadBodyAsync(context, WireFormat.MaxPlansPerRequest * Hash.Size, ct));
            var files = new LocalRemote(repository, "");
            var records = repository.GetFiles(hashes);
            var answer = new System.Buffers.ArrayBufferWriter<byte>();
            for (int i = 0; i < hashes.Length; i++)
            {
                if (answer.WrittenCount >= WireFormat.ResponseBudget)
                {
                    break; // the client asks again for the rest
                }

                WireFormat.AppendReconstruction(answer, files.Reconstruct(hashes[i], records[i]));
            }

            return Results.Bytes(answer.WrittenMemory, WireFormat.BinaryType);
        });

        ds.MapGet("/packs/{id}", async (string dataset, string id, HttpContext context, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            var packId = ParseHash(id);
            if (!repository.HasPack(packId))
            {
                throw new NotFoundException($"Pack {id} does not exist.");
            }

            string key = PackFormat.BlobKey(packId);
            if (await SendRangeAsync(context, repository.Blobs, key, repository.GetPack(packId).BlobLength, ct))
            {
                return Results.Empty;
            }

            if (repository.Blobs.LocalPath(key) is { } path)
            {
                return Results.File(path, WireFormat.BinaryType, enableRangeProcessing: true);
            }

            // Several ranges, or If-Range, from a store without local files: the whole pack, as HTTP
            // allows (clients take what they asked for from it).
            return Results.Stream(await repository.Blobs.OpenReadAsync(key, ct), WireFormat.BinaryType);
        });
    }

    private static JsonObject RefJson(RefName name, Hash record) => new()
    {
        ["kind"] = name.Kind,
        ["name"] = name.Name,
        ["record"] = record.ToString(),
    };

    private static void CountFreed(GcReport report)
    {
        if (!report.DryRun)
        {
            ServerMetrics.GcBytesFreed.Inc(report.BytesFreed);
        }
    }

    /// <summary>A duration given in seconds as the query parameter <paramref name="name"/>, or null; beyond what a TimeSpan holds, forever.</summary>
    private static TimeSpan? Seconds(double? seconds, string name) => seconds switch
    {
        null => null,
        >= 0 and var s when s >= TimeSpan.MaxValue.TotalSeconds => TimeSpan.MaxValue,
        >= 0 and var s => TimeSpan.FromSeconds(s),
        _ => throw new InvalidInputException($"{name} must be a number of seconds, 0 or more, not {seconds}."), // negative or NaN
    };

    /// <summary>
    /// Answers a request for one byte range of a pack with a stream of just that range from the
    /// store: for files, read around the page cache (a pack is read back rarely, and filling cache
    /// pages with it cost this VM about 3 CPU-seconds per GiB pulled); for S3, one ranged GET.
    /// An unsatisfiable range is answered 416; anything else (no range, several, If-Range) is left
    /// to the caller.
    /// </summary>
    private static async Task<bool> SendRangeAsync(HttpContext context, IBlobStore store, string key, long total, CancellationToken ct)
    {
        var headers = context.Request.GetTypedHeaders();
        if (headers.Range is not { Unit.Value: "bytes", Ranges.Count: 1 } range || headers.IfRange is not null)
        {
            return false;
        }

        var (from, to) = (range.Ranges.Single().From, range.Ranges.Single().To);
        long start = from ?? Math.Max(0, total - (to ?? 0));
        long last = from is null ? total - 1 : Math.Min(to ?? total - 1, total - 1);
        var response = context.Response;
        if (start >= total || last < start)
        {
            response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
            response.Headers.ContentRange = $"bytes */{total}";
            return true;
        }

        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = WireFormat.BinaryType;
        response.ContentLength = last - start + 1;
        response.Headers.AcceptRanges = "bytes";
        response.GetTypedHeaders().ContentRange = new Microsoft.Net.Http.Headers.ContentRangeHeaderValue(start, last, total);
        await using var stream = await store.OpenReadAsync(key, start, last - start + 1, ct);
        await stream.CopyToAsync(response.Body, 256 << 10, ct);
        return true;
    }

    public static Hash ParseHash(string text) =>
        Hash.TryParse(text, out var hash) ? hash : throw new InvalidInputException($"'{text}' is not a 64-digit hex hash.");

    /// <summary>A JSON object body of at most 1 KiB; anything else is a 400, not a 500.</summary>
    private static async Task<JsonObject> ReadSmallJsonAsync(HttpContext context, CancellationToken ct)
    {
        try
        {
            return JsonNode.Parse(await ReadBodyAsync(context, 1024, ct)) as JsonObject ?? throw new InvalidInputException("The body must be a JSON object.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidInputException($"The body is not valid JSON: {e.Message}");
        }
    }

    private static Hash? OptionalHash(JsonObject body, string field) => body[field] switch
    {
        null => null,
        JsonValue value when value.TryGetValue(out string? text) => ParseHash(text),
        _ => throw new InvalidInputException($"\"{field}\" must be a hash string or null."),
    };

    private static async Task<byte[]> ReadBodyAsync(HttpContext context, int maxBytes, CancellationToken ct)
    {
        ErrorMapping.LimitBody(context, maxBytes);
        if (context.Request.ContentLength is { } length && length <= maxBytes)
        {
            byte[] body = new byte[length]; // one array of the announced size, not a growing stream and a copy
            await context.Request.Body.ReadExactlyAsync(body, ct);
            return body;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }
}
