using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Sync;

/// <summary>Opens a remote from its URL: <c>file:///path/DATASET</c> or <c>http(s)://host:port/DATASET</c>.</summary>
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
            throw new InvalidInputException($"'{url}' is not a supported remote; use file:///path/to/repo/DATASET or http://host:port/DATASET.");
        }

        return Path.GetFullPath(url);
    }

    public static bool IsHttp(string url) => url.StartsWith("http://", StringComparison.Ordinal) || url.StartsWith("https://", StringComparison.Ordinal);

    /// <summary>
    /// Opens a remote. HTTP remotes authenticate with the MERKLESYNC_TOKEN environment variable and
    /// trust, besides the system store, the CA certificate named by MERKLESYNC_CA_CERT (PEM).
    /// </summary>
    public static async Task<IRemote> OpenAsync(string url, CancellationToken cancellationToken)
    {
        if (IsHttp(url))
        {
            return new HttpRemote(new Uri(url), Environment.GetEnvironmentVariable("MERKLESYNC_TOKEN"), caCertFile: Environment.GetEnvironmentVariable("MERKLESYNC_CA_CERT"));
        }

        string path = LocalPath(url);
        var repository = await Repository.Repository.OpenAsync(path, cancellationToken).ConfigureAwait(false);
        return new LocalRemote(repository, "file://" + path);
    }
}
