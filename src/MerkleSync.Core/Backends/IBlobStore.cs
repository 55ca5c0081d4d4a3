namespace MerkleSync.Core.Backends;

/// <summary>
/// Immutable named blobs (packs). The engine reaches storage only through this contract, so a file
/// system, S3 or any other store behaves the same; every store passes one shared conformance suite.
/// </summary>
/// <remarks>
/// Contract:
/// <list type="bullet">
/// <item>Keys are '/'-separated, of [a-z0-9._-] segments; the store maps them to its own names.</item>
/// <item>A blob becomes visible only when <see cref="IBlobWriter.CommitAsync"/> returns, whole and
/// durable; an aborted or crashed writer leaves nothing under the key.</item>
/// <item>Blobs are never modified. Committing an existing key replaces it with identical content
/// (content-addressed keys make that idempotent), so a retried commit is harmless.</item>
/// <item>Missing keys throw <see cref="Errors.NotFoundException"/>; other failures are I/O errors
/// that a caller may retry.</item>
/// </list>
/// </remarks>
public interface IBlobStore
{
    /// <summary>Starts a new blob; its bytes stay invisible until committed.</summary>
    ValueTask<IBlobWriter> CreateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the bytes of a local file as a blob, durably and atomically, taking the file (it is
    /// moved where the store allows, else copied and deleted).
    /// </summary>
    ValueTask ImportFileAsync(string key, string localPath, CancellationToken cancellationToken);

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns the count (short only at the end).</summary>
    ValueTask<int> ReadAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>A stream over the whole blob, for sequential reads.</summary>
    ValueTask<Stream> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>A stream over <paramref name="length"/> bytes of the blob from <paramref name="offset"/> (fewer if it ends first).</summary>
    ValueTask<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken);

    /// <summary>The blob's length, or null if there is no such blob.</summary>
    ValueTask<long?> GetLengthAsync(string key, CancellationToken cancellationToken);

    /// <summary>The blob's path if this store keeps blobs as local files, else null.</summary>
    string? LocalPath(string key);

    /// <summary>Removes what writers that crashed left staged; call when no writer can be running.</summary>
    void RemoveAbandonedStaging();

    /// <summary>Removes a blob; removing a missing one is not an error.</summary>
    ValueTask DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>All keys under <paramref name="prefix"/> (unordered).</summary>
    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);
}

/// <summary>A blob being written. Dispose without commit discards it.</summary>
public interface IBlobWriter : IAsyncDisposable
{
    /// <summary>Where the blob's bytes go; write sequentially.</summary>
    Stream Content { get; }

    /// <summary>Makes the written bytes durable and visible under <paramref name="key"/>, atomically.</summary>
    ValueTask CommitAsync(string key, CancellationToken cancellationToken);
}

/// <summary>The blob-key rules every store enforces alike.</summary>
public static class BlobKeys
{
    /// <summary>The folder where stores that spool or stage locally keep unfinished blobs; never a key segment.</summary>
    public const string StagingFolder = "tmp";

    /// <summary>Throws unless <paramref name="key"/> is '/'-separated segments of [a-z0-9._-] (or empty, when allowed).</summary>
    public static void Validate(string key, bool allowEmpty = false)
    {
        if (key.Length == 0 && allowEmpty)
        {
            return;
        }

        foreach (string segment in key.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." or StagingFolder || !segment.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-'))
            {
                throw new ArgumentException($"Invalid blob key '{key}'.", nameof(key));
            }
        }
    }
}
