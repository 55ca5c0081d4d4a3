using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Repository;

namespace MerkleSync.Server.Hosting;

/// <summary>The datasets under the server root, each a repository opened once and kept open.</summary>
public sealed partial class DatasetRegistry(string root) : IAsyncDisposable
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

        return WaitAsync(name, task, cancellationToken);
    }

    private static async Task<Repository> WaitAsync(string name, Task<Repository> task, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException e)
        {
            // Do not show server paths; say what the client can do.
            throw new NotFoundException($"Dataset '{name}' does not exist on this server; create it with 'merklesync init http://HOST:PORT/{name}'.", e);
        }
    }

    public Repository Create(string name)
    {
        Validate(name);
        var repository = Repository.Init(Path.Combine(Root, name));
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
