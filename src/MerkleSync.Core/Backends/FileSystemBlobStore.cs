using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Backends;

/// <summary>
/// Blobs as files under a root folder. Writers stage in <c>tmp/</c> on the same file system and
/// commit with fsync and rename, so a blob is either absent or whole.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;

    public FileSystemBlobStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(Path.Combine(_root, BlobKeys.StagingFolder));
    }

    public void RemoveAbandonedStaging() => StagingFolder.RemoveFiles(Path.Combine(_root, BlobKeys.StagingFolder));

    public async ValueTask<IBlobWriter> CreateAsync(CancellationToken cancellationToken)
    {
        string staging = StagingFolder.NewFile(Path.Combine(_root, BlobKeys.StagingFolder));
        var stream = await UnbufferedFile.OpenAppendAsync(staging, 0, create: true, cancellationToken).ConfigureAwait(false);
        return new Writer(this, staging, stream);
    }

    public ValueTask ImportFileAsync(string key, string localPath, CancellationToken cancellationToken)
    {
        using (var file = new FileStream(localPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            file.Flush(flushToDisk: true);
        }

        MoveIntoPlace(localPath, key); // same file system when the file is staged under this store
        return ValueTask.CompletedTask;
    }

    /// <summary>Renames a synced file to its key and syncs the folder, so the blob appears whole and stays.</summary>
    private void MoveIntoPlace(string syncedFile, string key)
    {
        string target = PathOf(key);
        string directory = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(directory);
        File.Move(syncedFile, target, overwrite: true);
        DirectorySync.Flush(directory);
    }

    public async ValueTask<int> ReadAsync(string key, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var handle = OpenHandle(key);
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public ValueTask<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => ValueTask.FromResult(OpenRead(key, 0, null));

    public ValueTask<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken) =>
        ValueTask.FromResult(OpenRead(key, offset, length));

    private Stream OpenRead(string key, long offset, long? length)
    {
        try
        {
            return UnbufferedFile.OpenRead(PathOf(key), offset, length);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new NotFoundException($"Blob '{key}' does not exist.", e);
        }
    }

    public ValueTask<long?> GetLengthAsync(string key, CancellationToken cancellationToken)
    {
        var info = new FileInfo(PathOf(key));
        return ValueTask.FromResult<long?>(info.Exists ? info.Length : null);
    }

    public string? LocalPath(string key) => PathOf(key);

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(PathOf(key));
        }
        catch (DirectoryNotFoundException)
        {
            // Neither the blob nor its folder: nothing to remove.
        }

        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        BlobKeys.Validate(prefix.TrimEnd('/'), allowEmpty: true);
        string directory = Path.Combine(_root, prefix);
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(BlobKeys.StagingFolder + "/", StringComparison.Ordinal))
            {
                yield return key; // staged blobs are not blobs yet
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private SafeFileHandle OpenHandle(string key)
    {
        try
        {
            return File.OpenHandle(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new NotFoundException($"Blob '{key}' does not exist.", e);
        }
    }

    private string PathOf(string key)
    {
        BlobKeys.Validate(key);
        return Path.Combine(_root, key);
    }

    private sealed class Writer(FileSystemBlobStore store, string staging, UnbufferedFile.AppendStream stream) : IBlobWriter
    {
        private bool _committed;

        public Stream Content => stream;

        public async ValueTask CommitAsync(string key, CancellationToken cancellationToken)
        {
            await stream.SyncAsync(cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            store.MoveIntoPlace(staging, key);
            _committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (!_committed)
            {
                File.Delete(staging);
            }
        }
    }
}
