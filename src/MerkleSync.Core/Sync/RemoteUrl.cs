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

    /// <summary>
    /// The form a named remote keeps: an http(s) URL without its trailing '/', checked to name a
    /// host and a dataset, or a <c>file://</c> URL of an absolute path.
    /// </summary>
    public static string Normalize(string url)
    {
        if (!IsHttp(url))
        {
            return "file://" + LocalPath(url);
        }

        string trimmed = url.TrimEnd('/');
        return Uri.TryCreate(trimmed, UriKind.Absolute, out var parsed) && parsed.Host.Length > 0 && parsed.AbsolutePath.TrimEnd('/').Length > 1
            && parsed.Query.Length == 0 && parsed.Fragment.Length == 0
            ? trimmed
            : throw new InvalidInputException($"'{url}' is not a remote URL; use http(s)://host:port/DATASET.");
    }

    /// <summary>
    /// A remote argument as a URL: URLs pass through; a name (letters, digits, '.', '_', '-') is
    /// looked up among the named remotes of <paramref name="datasetDirectory"/>, then of the
    /// current directory; anything else is a local path.
    /// </summary>
    public static string Resolve(string remote, string? datasetDirectory = null)
    {
        if (remote.Contains("://", StringComparison.Ordinal) || remote.Contains('/', StringComparison.Ordinal) || !remote.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            return remote;
        }

        return FromState(datasetDirectory, state => state.GetRemote(remote))
            ?? (Directory.Exists(remote) ? remote : throw new InvalidInputException(
                $"'{remote}' is neither a URL, a folder, nor a remote named in {string.Join(" or ", StateFolders(datasetDirectory).Select(f => $"'{f}'"))}. Add it with: merklesync remote add {remote} URL"));
    }

    public static Task<IRemote> OpenAsync(string url, CancellationToken cancellationToken) => OpenAsync(url, null, cancellationToken);

    /// <summary>The first value <paramref name="read"/> finds in the client state of <see cref="StateFolders"/>.</summary>
    private static string? FromState(string? datasetDirectory, Func<ClientState.ClientStateStore, string?> read)
    {
        foreach (string dir in StateFolders(datasetDirectory).Where(ClientState.ClientStateStore.Exists))
        {
            using var state = ClientState.ClientStateStore.OpenToRead(dir);
            if (read(state) is { } value)
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>Where remote names and tokens are looked up: the dataset directory, then the current one (to pull into a new folder).</summary>
    private static string[] StateFolders(string? datasetDirectory) =>
        [.. new[] { datasetDirectory ?? ".", "." }.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal)];

    public static bool IsHttp(string url) => url.StartsWith("http://", StringComparison.Ordinal) || url.StartsWith("https://", StringComparison.Ordinal);

    /// <summary>
    /// Opens a remote given as a URL or a name (see <see cref="Resolve"/>). HTTP remotes
    /// authenticate with the MERKLESYNC_TOKEN environment variable, else with the token stored for
    /// the URL in <paramref name="datasetDirectory"/>'s state, and trust, besides the system store,
    /// the CA certificate named by MERKLESYNC_CA_CERT (PEM).
    /// </summary>
    public static async Task<IRemote> OpenAsync(string remote, string? datasetDirectory, CancellationToken cancellationToken)
    {
        string url = Resolve(remote, datasetDirectory);
        if (IsHttp(url))
        {
            string? token = Environment.GetEnvironmentVariable("MERKLESYNC_TOKEN") is { Length: > 0 } fromEnvironment ? fromEnvironment : StateFolders(datasetDirectory).Select(dir => ClientState.ClientStateStore.StoredToken(dir, url.TrimEnd('/'))).FirstOrDefault(t => t is not null);
            return new HttpRemote(new Uri(url), token, caCertFile: Environment.GetEnvironmentVariable("MERKLESYNC_CA_CERT"));
        }

        string path = LocalPath(url);
        var repository = await Repository.Repository.OpenAsync(path, cancellationToken).ConfigureAwait(false);
        return new LocalRemote(repository, "file://" + path);
    }
}
