using MerkleSync.Core.Errors;
using MerkleSync.Core.Index;
using MerkleSync.Core.Repository;
using MerkleSync.Server.Hosting;

namespace MerkleSync.Server.Endpoints;

/// <summary>
/// Pack uploads as tus 1.0 (core, creation, creation-defer-length, checksum, termination), so any
/// tus client can send a pack and resume it at a byte offset, and a client can stream a pack whose
/// length it learns only at the end. The last PATCH returns only after the server has verified
/// every chunk in the pack and indexed it; a bad pack gets 422 and nothing is indexed.
/// </summary>
internal static class UploadEndpoints
{
    private const string TusVersion = "1.0.0";

    // How long a HEAD waits for a request still appending to or finishing the upload (one a crashed
    // client left behind ends when the server notices the closed connection, or at the body's
    // minimum data rate).
    private static readonly TimeSpan BusyUploadPatience = TimeSpan.FromSeconds(30);

    public static void Map(WebApplication app)
    {
        var uploads = app.MapGroup("/v1/datasets/{dataset}/uploads").AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            http.Response.Headers["Tus-Resumable"] = TusVersion;
            if (!HttpMethods.IsOptions(http.Request.Method) && http.Request.Headers["Tus-Resumable"] != TusVersion)
            {
                http.Response.Headers["Tus-Version"] = TusVersion;
                return Results.StatusCode(StatusCodes.Status412PreconditionFailed);
            }

            return await next(context);
        });

        uploads.MapMethods("", ["OPTIONS"], (HttpContext http) =>
        {
            http.Response.Headers["Tus-Version"] = TusVersion;
            http.Response.Headers["Tus-Extension"] = "creation,creation-defer-length,checksum,termination";
            http.Response.Headers["Tus-Max-Size"] = Repository.MaxUploadLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
            http.Response.Headers["Tus-Checksum-Algorithm"] = "sha1,sha256";
            return Results.NoContent();
        });

        uploads.MapPost("", async (string dataset, HttpContext http, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            long? length = long.TryParse(http.Request.Headers["Upload-Length"], out long announced) ? announced
                : http.Request.Headers["Upload-Defer-Length"] == "1" ? null
                : throw new InvalidInputException("Upload-Length (or Upload-Defer-Length: 1) is required.");
            var upload = repository.CreateUpload(length);
            http.Response.Headers.Location = $"/v1/datasets/{dataset}/uploads/{upload.Id}";
            return Results.StatusCode(StatusCodes.Status201Created);
        });

        uploads.MapMethods("/{id}", ["HEAD"], async (string dataset, string id, HttpContext http, DatasetRegistry registry, CancellationToken ct) =>
        {
            var upload = await (await registry.GetAsync(dataset, ct)).GetUploadWhenIdleAsync(id, BusyUploadPatience, ct);
            http.Response.Headers.CacheControl = "no-store";
            ServerMetrics.UploadResumes.Inc(1);
            if (upload is null)
            {
                return Results.NotFound();
            }

            http.Response.Headers["Upload-Offset"] = upload.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (upload.Length is { } length)
            {
                http.Response.Headers["Upload-Length"] = length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                http.Response.Headers["Upload-Defer-Length"] = "1";
            }

            return Results.Ok();
        });

        uploads.MapPatch("/{id}", async (string dataset, string id, HttpContext http, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            if (http.Request.ContentType != "application/offset+octet-stream")
            {
                return Results.StatusCode(StatusCodes.Status415UnsupportedMediaType);
            }

            if (!long.TryParse(http.Request.Headers["Upload-Offset"], out long offset))
            {
                throw new InvalidInputException("Upload-Offset is required.");
            }

            var upload = repository.GetUpload(id) ?? throw new NotFoundException($"Upload {id} does not exist.");
            if (http.Request.Headers["Upload-Length"].Count > 0)
            {
                upload = long.TryParse(http.Request.Headers["Upload-Length"], out long length)
                    ? repository.SetUploadLength(id, length)
                    : throw new InvalidInputException("Upload-Length must be a number of bytes.");
            }

            // Offset first (tus: 409), then size: a retried PATCH whose bytes the server already has
            // (its answer was lost, or the pack's finishing failed) must learn where the upload
            // stands, not that its body is too large for the room left.
            if (offset != upload.Offset)
            {
                throw new ConflictException($"Upload {id} is at offset {upload.Offset}, not {offset}.");
            }

            ErrorMapping.LimitBody(http, upload.Room);
            long newOffset;
            try
            {
                newOffset = await repository.AppendUploadAsync(id, offset, http.Request.Body, ParseChecksum(http.Request.Headers["Upload-Checksum"]), ct);
            }
            catch (ChecksumMismatchException)
            {
                ServerMetrics.ChecksumMismatches.Inc(1);
                throw;
            }

            if (newOffset == upload.Length)
            {
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                PackRecord pack;
                bool readBack;
                try
                {
                    // Not cut short when the client goes away (a crash right after its last PATCH):
                    // stopped between moving the pack into the store and indexing it, the upload
                    // would be gone and its chunks unknown, and the resumed push would send them again.
                    (pack, readBack) = await repository.FinishUploadAsync(id, http.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
                }
                catch (MerkleSyncException)
                {
                    ServerMetrics.UploadsRejected.Inc(1);
                    throw;
                }

                ServerMetrics.UploadsCompleted.Inc(1);
                if (readBack)
                {
                    ServerMetrics.PacksReadBack.Inc(1);
                }

                ServerMetrics.VerifySecondsPerGb.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds / Math.Max(1e-9, newOffset / 1e9));
                http.Response.Headers["MerkleSync-Pack-Id"] = pack.PackId.ToString();
            }

            http.Response.Headers["Upload-Offset"] = newOffset.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.NoContent();
        });

        uploads.MapDelete("/{id}", async (string dataset, string id, DatasetRegistry registry, CancellationToken ct) =>
        {
            var repository = await registry.GetAsync(dataset, ct);
            if (repository.GetUpload(id) is null)
            {
                return Results.NotFound();
            }

            repository.DeleteUpload(id);
            return Results.NoContent();
        });
    }

    // "Upload-Checksum: sha1 <base64>"
    private static (string, byte[])? ParseChecksum(string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return null;
        }

        string[] parts = header.Split(' ', 2, StringSplitOptions.TrimEntries);
        try
        {
            return parts.Length == 2 ? (parts[0], Convert.FromBase64String(parts[1])) : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new InvalidInputException("Upload-Checksum must be '<algorithm> <base64 digest>'.");
        }
    }
}
