using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;

namespace MerkleSync.Core.Sync;

/// <summary>
/// A push's upload checkpoints, usable before its client state is open: the first push from a
/// directory (no state yet, so nothing to resume and nothing cached) starts uploading while its
/// state is created, which takes the RocksDB binding's start-up, most of a second. Checkpoints are
/// held in memory until the state is attached, which then gets all of them and everything after
/// (an existing state is attached before any upload). A crash before that loses only the progress
/// of the packs begun meanwhile: a re-run sends them again.
/// </summary>
internal sealed class DeferredCheckpoints : IUploadCheckpoints
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string RemoteUrl, string UploadUrl, Compression Compression, List<ChunkOrigin> Chunks)> _held = [];
    private IUploadCheckpoints? _target;

    /// <summary>Whether checkpoints are held that no state has taken yet.</summary>
    public bool HoldsAny
    {
        get
        {
            lock (_lock)
            {
                return _held.Count > 0;
            }
        }
    }

    /// <summary>Writes the checkpoints held so far to <paramref name="target"/> and passes every later one on.</summary>
    public void Attach(IUploadCheckpoints target)
    {
        lock (_lock)
        {
            foreach (var (name, (remoteUrl, uploadUrl, compression, chunks)) in _held)
            {
                target.Begin(name, remoteUrl, uploadUrl, compression);
                if (chunks.Count > 0)
                {
                    target.AppendChunks(name, chunks);
                }
            }

            _held.Clear();
            _target = target;
        }
    }

    public void Begin(string name, string remoteUrl, string uploadUrl, Compression compression)
    {
        lock (_lock)
        {
            if (_target is { } target)
            {
                target.Begin(name, remoteUrl, uploadUrl, compression);
            }
            else
            {
                _held[name] = (remoteUrl, uploadUrl, compression, []);
            }
        }
    }

    public void AppendChunks(string name, IReadOnlyList<ChunkOrigin> chunks)
    {
        lock (_lock)
        {
            if (_target is { } target)
            {
                target.AppendChunks(name, chunks);
            }
            else
            {
                _held[name].Chunks.AddRange(chunks);
            }
        }
    }

    public void Remove(string name)
    {
        lock (_lock)
        {
            if (_target is { } target)
            {
                target.Remove(name);
            }
            else
            {
                _held.Remove(name);
            }
        }
    }

    public IReadOnlyList<UploadCheckpoint> List()
    {
        lock (_lock)
        {
            return _target?.List() ?? []; // a directory without state has no earlier uploads
        }
    }
}
