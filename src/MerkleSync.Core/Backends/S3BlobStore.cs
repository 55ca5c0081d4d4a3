using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Backends;

/// <summary>
/// Blobs as objects in an S3 bucket (AWS or any S3-compatible server) under a key prefix. A new
/// blob is spooled to a local staging file, because its key (the pack id) is known only when it is
/// complete, then uploaded in one request: S3 shows an object only once its upload completes, so a
/// blob is either absent or whole, and an acknowledged upload is durable. Credentials come from the
/// AWS SDK's usual sources (environment, profile, instance role).
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _staging;

    /// <param name="location">Where the blobs live.</param>
    /// <param name="stagingFolder">A local folder for blobs being written (one process uses it at a time).</param>
    /// <param name="credentials">Explicit credentials; null uses the SDK's default chain.</param>
    public S3BlobStore(S3Location location, string stagingFolder, AWSCredentials? credentials = null)
    {
        Location = location;
        _staging = Path.GetFullPath(stagingFolder);
        var config = new AmazonS3Config
        {
            // The bytes are checked end to end by their hashes; S3 needs no trailing checksums,
            // which S3-compatible servers do not all understand.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromMinutes(5),
        };
        if (location.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.ForcePathStyle = true;
            config.AuthenticationRegion = location.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(location.Region);
        }

        _client = credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
    }

    public S3Location Location { get; }

    /// <summary>Keys per list request (S3's maximum is 1000; tests page with fewer).</summary>
    internal int ListPageSize { get; init; } = 1000;

    /// <summary>
    /// Lists one key under <paramref name="location"/>, so that a missing bucket, refused
    /// credentials or an unreachable endpoint are reported before anything depends on the store.
    /// </summary>
    public static async Task CheckAccessAsync(S3Location location, CancellationToken cancellationToken)
    {
        using var probe = new S3BlobStore(location, Path.GetTempPath()) { ListPageSize = 1 };
        await using var keys = probe.ListAsync("", cancellationToken).GetAsyncEnumerator(cancellationToken);
        await keys.MoveNextAsync().ConfigureAwait(false);
    }

    public ValueTask<IBlobWriter> CreateAsync(CancellationToken cancellationToken)
    {
        string path = StagingFolder.NewFile(_staging);
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        return ValueTask.FromResult<IBlobWriter>(new Writer(this, path, file));
    }

    public async ValueTask ImportFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        await UploadAsync(key, localPath, cancellationToken).ConfigureAwait(false);
        File.Delete(localPath);
    }

    private async Task UploadAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        // One PUT (S3 takes up to 5 GiB in one; packs are ~64 MiB), its body sent as it is: with
        // chunk encoding, S3-compatible servers that do not decode it store the chunk framing.
        // Over TLS the payload is not hashed for the signature (TLS protects it already).
        var request = new PutObjectRequest
        {
            BucketName = Location.Bucket,
            Key = ObjectKey(key),
            FilePath = localPath,
            UseChunkEncoding = false,
            DisablePayloadSigning = Location.Endpoint is null || Location.Endpoint.Scheme == Uri.UriSchemeHttps,
        };
        await Call(key, () => _client.PutObjectAsync(request, cancellationToken)).ConfigureAwait(false);
    }

    public async ValueTask<int> ReadAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        using var response = await GetAsync(key, offset, buffer.Length, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            return 0; // the range starts at or past the end
        }

        int total = 0;
        while (total < buffer.Length)
        {
            int read = await response.ResponseStream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public async ValueTask<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) =>
        await OpenAsync(key, 0, null, cancellationToken).ConfigureAwait(false);

    public async ValueTask<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken) =>
        await OpenAsync(key, offset, length, cancellationToken).ConfigureAwait(false);

    private async Task<Stream> OpenAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            return Stream.Null;
        }

        // Disposing the body releases the response and its connection.
        var response = await GetAsync(key, offset, length, cancellationToken).ConfigureAwait(false);
        return response?.ResponseStream ?? Stream.Null;
    }

    // The object's bytes from offset (length of them, or to the end); null when offset is at or past the end.
    private async Task<GetObjectResponse?> GetAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest { BucketName = Location.Bucket, Key = ObjectKey(key) };
        if (offset > 0 || length is not null)
        {
            request.ByteRange = length is { } count ? new ByteRange(offset, offset + count - 1) : new ByteRange($"bytes={offset}-");
        }

        try
        {
            return await Call(key, () => _client.GetObjectAsync(request, cancellationToken)).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return null;
        }
    }

    public async ValueTask<long?> GetLengthAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = await Call(key, () => _client.GetObjectMetadataAsync(Location.Bucket, ObjectKey(key), cancellationToken)).ConfigureAwait(false);
            return metadata.ContentLength;
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    public string? LocalPath(string key) => null;

    public void RemoveAbandonedStaging() => StagingFolder.RemoveFiles(_staging);

    public async ValueTask DeleteAsync(string key, CancellationToken cancellationToken) =>
        await Call(key, () => _client.DeleteObjectAsync(Location.Bucket, ObjectKey(key), cancellationToken)).ConfigureAwait(false);

    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string trimmed = prefix.TrimEnd('/');
        BlobKeys.Validate(trimmed, allowEmpty: true);
        var request = new ListObjectsV2Request { BucketName = Location.Bucket, Prefix = Location.Prefix + (trimmed.Length == 0 ? "" : trimmed + "/"), MaxKeys = ListPageSize };
        while (true)
        {
            var page = await Call(prefix, () => _client.ListObjectsV2Async(request, cancellationToken)).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return item.Key[Location.Prefix.Length..];
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    public void Dispose() => _client.Dispose();

    private string ObjectKey(string key)
    {
        BlobKeys.Validate(key);
        return Location.Prefix + key;
    }

    // Runs one S3 call (the SDK has already retried what it deems transient). A missing object or
    // bucket becomes NotFoundException; a store that cannot be used (unreachable, failing, refusing
    // the credentials, or no credentials found: AmazonClientException) StoreUnavailableException naming it.
    private async Task<T> Call<T>(string key, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new NotFoundException(e.ErrorCode == "NoSuchBucket" ? $"S3 bucket '{Location.Bucket}' does not exist ({Location})." : $"Blob '{key}' does not exist in {Location}.", e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            throw new StoreUnavailableException($"{Location} refused the credentials ({e.ErrorCode}: {e.Message}). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile.", e);
        }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException
            && e is not AmazonS3Exception { StatusCode: HttpStatusCode.RequestedRangeNotSatisfiable }) // a read at the end: the caller's answer
        {
            throw new StoreUnavailableException($"The pack store {Location} failed: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}", e);
        }
    }

    private sealed class Writer(S3BlobStore store, string path, FileStream file) : IBlobWriter
    {
        private bool _closed;

        public Stream Content => file;

        public async ValueTask CommitAsync(string key, CancellationToken cancellationToken)
        {
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            await store.UploadAsync(key, path, cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await CloseAsync().ConfigureAwait(false);
            File.Delete(path);
        }

        private async ValueTask CloseAsync()
        {
            if (!_closed)
            {
                _closed = true;
                await file.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
