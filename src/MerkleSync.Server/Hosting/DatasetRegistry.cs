using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Repository;

namespace MerkleSync.Server.Hosting;

/// <summary>
/// The datasets under the server root, each a repository opened once and kept open. With a pack
/// store, a dataset created here keeps its packs in S3 under the store's prefix and its name.
/// </summary>
public sealed partial class DatasetRegistry(string root, S3Location? packStore = null) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Repository>>> _open = new(StringComparer.Ordinal);

    public string Root { get; } = Path.GetFullPath(root);

    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    public Task<Repository> GetAsync(string name, CancellationToken cancellationToken)
    {
        Validate(name);
        var lazy = _open.GetOrAdd(name, n => new Lazy<Task<Repository>>(() => Repository.OpenAsync(Path.Combine(Root, n), CancellationToken.None)));
        var task = lazy.Value;
        if (task.IsFaulted)
        {
            _open.TryRemove(new KeyValuePair<string, Lazy<Task<Repository>>>(name, lazy)); // retry on the next request
        }

        return WaitAsync(name, lazy, cancellationToken);
    }

    private async Task<Repository> WaitAsync(string name, Lazy<Task<Repository>> lazy, CancellationToken cancellationToken)
    {
        Repository repository;
        try
        {
            repository = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException e)
        {
            // Do not show server paths; say what the client can do.
            throw new NotFoundException($"Dataset '{name}' does not exist on this server; create it with 'merklesync init http://HOST:PORT/{name}'.", e);
        }

        // An open repository whose folder was deleted would go on taking writes into unlinked files
        // (and packs into folders made anew), all lost at the next start: refuse, as for any
        // dataset that is not there. Left open: requests still running may be using it.
        if (!Directory.Exists(Path.Combine(repository.Path, Repository.DatabaseFolder)))
        {
            _open.TryRemove(new KeyValuePair<string, Lazy<Task<Repository>>>(name, lazy));
            throw new NotFoundException($"Dataset '{name}' is no longer in this server's storage: its folder was removed while the server ran.");
        }

        return repository;
    }

    public async Task<Repository> CreateAsync(string name, CancellationToken cancellationToken)
    {
        Validate(name);
        var repository = await Repository.InitAsync(Path.Combine(Root, name), packStore?.Child(name), cancellationToken).ConfigureAwait(false);
        _open[name] = new Lazy<Task<Repository>>(Task.FromResult(repository));
        return repository;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _open.Values.Where(l => l.IsValueCreated))
        {
            try
            {
                (await lazy.Value.ConfigureAwait(false)).Dispose();
            }
            catch (MerkleSyncException)
            {
                // It never opened.
            }
        }
    }

    private static void Validate(string name)
    {
        if (!IsValidName(name))
        {
            throw new InvalidInputException($"'{name}' is not a valid dataset name (lowercase letters, digits, '.', '_', '-'; up to 100).");
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,99}$")]
    private static partial Regex NamePattern();
}
