using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Sync;

/// <summary>Opens a remote from its URL. Only <c>file://</c> exists so far.</summary>
public static class RemoteUrl
{
    /// <summary>The local path of a <c>file://</c> URL (a plain path is accepted too).</summary>
    public static string LocalPath(string url)
    {
        if (url.StartsWith("file://", StringComparison.Ordinal))
        {
            string path = Uri.UnescapeDataString(url["file://".Length..]);
            return path.Length > 0 ? Path.GetFullPath(path) : throw new InvalidInputException($"'{url}' names no folder.");
        }

        if (url.Contains("://", StringComparison.Ordinal))
        {
            throw new InvalidInputException($"'{url}' is not a supported remote; use file:///path/to/repo/DATASET.");
        }

        return Path.GetFullPath(url);
    }

    public static string Normalize(string url) => "file://" + LocalPath(url);

    public static async Task<IRemote> OpenAsync(string url, CancellationToken cancellationToken)
    {
        string path = LocalPath(url);
        var repository = await Repository.Repository.OpenAsync(path, cancellationToken).ConfigureAwait(false);
        return new LocalRemote(repository, "file://" + path);
    }
}
