using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Repository;

/// <summary>
/// A dataset repository: packs in a blob store, everything else in RocksDB column families
/// (docs/format.md, "Repository"). One process opens it at a time; inside that process the
/// publish lock orders publishes and garbage collection.
/// </summary>
public sealed partial class Repository : IDisposable
{
    public const int FormatVersion = 2;
    public const string DatabaseFolder = "index";

    internal static class Families
    {
        public const string Meta = "meta";
        public const string Chunks = "chunks";
        public const string Packs = "packs";
        public const string Files = "files";
        public const string Nodes = "nodes";
        public const string Versions = "versions";
        public const string Refs = "refs";
        public const string Uploads = "uploads";

        /// <summary>File records and nodes stored ahead of a publish and not yet part of a version (Repository.Staging.cs).</summary>
        public const string Staged = "staged";

        public static readonly string[] All = ["default", Meta, Chunks, Packs, Files, Nodes, Versions, Refs, Uploads, Staged];
    }

    private static readonly byte[] FormatKey = "format"u8.ToArray();

    /// <summary>Meta key of the S3 location that holds the packs; absent when they are files under the repository.</summary>
    private static readonly byte[] StoreKey = "store"u8.ToArray();

    /// <summary>
    /// Meta key written when the repository is closed with the blob store and the index agreeing;
    /// removed when it is opened. Without it the next open lists the store (RecoverAsync).
    /// </summary>
    internal static readonly byte[] ClosedCleanKey = "closed-clean"u8.ToArray();

    // Blob-store changes begun and not yet matched in the index (a pack stored but not indexed, an
    // index entry removed but its blob not deleted): while any is open the repository does not
    // close clean.
    private int _unsettledStoreChanges;
    private readonly ConcurrentDictionary<Hash, PackRecord> _packCache = new();
    private long _packCacheEntries;
    private const long PackCacheEntries = 128 * 1024;

    private Repository(string path, RocksStore db, IBlobStore blobs)
    {
        Path = path;
        Db = db;
        Blobs = blobs;
        Nodes = new NodeStore(this);
    }

    public string Path { get; }

    public IBlobStore Blobs { get; }

    /// <summary>The tree nodes of this repository (reads verify ids; puts are ignored: nodes arrive by <see cref="StoreNodesAsync"/>).</summary>
    public ITreeNodeStore Nodes { get; }

    internal RocksStore Db { get; }

    internal SemaphoreSlim PublishLock { get; } = new(1, 1);

    /// <summary>What stamps versions, packs and staged records, and what retention and gc judge them by (tests set the time).</summary>
    internal TimeProvider Clock { get; set; } = TimeProvider.System;

    private long NowUnixMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Creates an empty repository at <paramref name="path"/>, its packs files under it.</summary>
    public static Repository Init(string path) => Create(path, null);

    /// <summary>
    /// Creates an empty repository at <paramref name="path"/> with its packs in
    /// <paramref name="packStore"/> (S3) when given; the index (RocksDB) is always local. The store
    /// is tried first, so a mistyped bucket or missing credentials leave no repository behind.
    /// </summary>
    public static async Task<Repository> InitAsync(string path, S3Location? packStore, CancellationToken cancellationToken)
    {
        if (packStore is not null)
        {
            await S3BlobStore.CheckAccessAsync(packStore, cancellationToken).ConfigureAwait(false);
        }

        return Create(path, packStore);
    }

    private static Repository Create(string path, S3Location? packStore)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(System.IO.Path.Combine(full, DatabaseFolder)))
        {
            throw new InvalidInputException($"A repository already exists at '{full}'.");
        }

        // The database is made under another name and renamed into place once it holds its format:
        // an init killed half-way leaves no repository that every later open would refuse.
        string database = System.IO.Path.Combine(full, DatabaseFolder), unfinished = database + ".unfinished";
        List<string> entries = Directory.Exists(full) ? [.. Directory.EnumerateFileSystemEntries(full)] : [];
        if (entries is [var only] && only == unfinished)
        {
            Directory.Delete(unfinished, recursive: true); // all that a killed init left
            entries.Clear();
        }

        // Its folders would mix with whatever is there (a dataset, say, which would then push them).
        if (entries.Count > 0)
        {
            throw new InvalidInputException($"'{full}' is not empty; a repository needs a new or empty folder.");
        }

        Directory.CreateDirectory(full);
        using (var created = RocksStore.Open(unfinished, Families.All, createIfMissing: true))
        {
            created.WriteDurable(batch =>
            {
                batch.Put(Families.Meta, FormatKey, [FormatVersion]);
                if (packStore is not null)
                {
                    batch.Put(Families.Meta, StoreKey, Encoding.UTF8.GetBytes(packStore.ToString()));
                }
            });
        }

        Directory.Move(unfinished, database);
        DirectorySync.Flush(full); // the rename survives a power cut, as the format write does
        var db = RocksStore.Open(database, Families.All, createIfMissing: false);
        return new Repository(full, db, OpenBlobStore(full, packStore));
    }

    /// <summary>Opens an existing repository and repairs what a crash may have left (see <see cref="RecoverAsync"/>).</summary>
    public static async Task<Repository> OpenAsync(string path, CancellationToken cancellationToken)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(System.IO.Path.Combine(full, DatabaseFolder)))
        {
            throw new NotFoundException($"No repository at '{full}'. Create one with: merklesync init file://{full}");
        }

        var db = RocksStore.Open(System.IO.Path.Combine(full, DatabaseFolder), Families.All, createIfMissing: false);
        byte[]? format = db.Get(Families.Meta, FormatKey);
        if (format is not [FormatVersion])
        {
            db.Dispose();
            throw new CorruptDataException($"'{full}' holds repository format {(format is [var v] ? v : "unknown")}; this build reads format {FormatVersion}.");
        }

        var packStore = db.Get(Families.Meta, StoreKey) is { } store ? S3Location.Parse(Encoding.UTF8.GetString(store)) : null;
        bool closedClean = db.Get(Families.Meta, ClosedCleanKey) is not null;
        if (closedClean)
        {
            db.Delete(Families.Meta, ClosedCleanKey); // durable before anything else this process writes: a crash from here on is seen
        }

        var repository = new Repository(full, db, OpenBlobStore(full, packStore));
        try
        {
            await repository.RecoverAsync(listStore: !closedClean, cancellationToken).ConfigureAwait(false);
            return repository;
        }
        catch
        {
            repository.Dispose();
            throw;
        }
    }

    // An S3 store spools new packs in the repository's staging folder, where the file-system store stages them.
    private static IBlobStore OpenBlobStore(string repository, S3Location? packStore) =>
        packStore is null ? new FileSystemBlobStore(repository) : new S3BlobStore(packStore, System.IO.Path.Combine(repository, BlobKeys.StagingFolder));

    /// <summary>Where the packs are: an S3 location, or null for files under the repository.</summary>
    public S3Location? PackStore => (Blobs as S3BlobStore)?.Location;

    public bool HasChunk(Hash chunk) => Db.Has(Families.Chunks, Key(chunk));

    public bool HasFile(Hash file) => Db.Has(Families.Files, Key(file));

    public bool HasNode(Hash node) => Db.Has(Families.Nodes, Key(node));

    /// <summary>Which of <paramref name="files"/> are stored, looked up together (<see cref="RocksStore.GetMany"/>).</summary>
    public bool[] HaveFiles(IReadOnlyList<Hash> files) => HaveMany(Families.Files, files);

    /// <inheritdoc cref="HaveFiles"/>
    public bool[] HaveChunks(IReadOnlyList<Hash> chunks) => HaveMany(Families.Chunks, chunks);

    /// <inheritdoc cref="HaveFiles"/>
    public bool[] HaveNodes(IReadOnlyList<Hash> nodes) => HaveMany(Families.Nodes, nodes);

    private bool[] HaveMany(string family, IReadOnlyList<Hash> hashes) => LookUpMany(family, hashes, value => value is not null);

    /// <summary>Where each of <paramref name="chunks"/> is stored (null if it is not), looked up together.</summary>
    public ChunkLocation?[] GetChunkLocations(IReadOnlyList<Hash> chunks) =>
        LookUpMany(Families.Chunks, chunks, value => value is null ? (ChunkLocation?)null : ChunkLocation.Decode(value));

    /// <summary>The records of <paramref name="files"/> (null where not stored), looked up together.</summary>
    public FileRecord?[] GetFiles(IReadOnlyList<Hash> files) =>
        LookUpMany(Families.Files, files, value => value is null ? null : FileRecord.Decode(value));

    private T[] LookUpMany<T>(string family, IReadOnlyList<Hash> hashes, Func<byte[]?, T> read) => [.. Db.GetMany(family, [.. hashes.Select(Key)]).Select(read)];

    public ChunkLocation? GetChunkLocation(Hash chunk) =>
        Db.Get(Families.Chunks, Key(chunk)) is { } value ? ChunkLocation.Decode(value) : null;

    public FileRecord? GetFile(Hash file) =>
        Db.Get(Families.Files, Key(file)) is { } value ? FileRecord.Decode(value) : null;

    public PackRecord GetPack(Hash packId)
    {
        if (_packCache.TryGetValue(packId, out var cached))
        {
            return cached;
        }

        byte[] value = Db.Get(Families.Packs, Key(packId)) ?? throw new NotFoundException($"Pack {packId} is not in the index.");
        var record = PackRecord.Decode(packId, value);
        if (Interlocked.Add(ref _packCacheEntries, record.Entries.Length) > PackCacheEntries)
        {
            // A crude bound on memory (entries, not packs: a pack of small chunks has thousands);
            // pack records are cheap to decode again.
            _packCache.Clear();
            Interlocked.Exchange(ref _packCacheEntries, record.Entries.Length);
        }

        _packCache[packId] = record;
        return record;
    }

    public VersionRecord? GetVersion(Hash id) =>
        Db.Get(Families.Versions, Key(id)) is { } value ? VersionRecord.Decode(value) : null;

    public IEnumerable<(Hash Id, VersionRecord Record)> ListVersions() =>
        Db.Scan(Families.Versions).Select(kv => (Hash.FromBytes(kv.Key), VersionRecord.Decode(kv.Value)));

    /// <summary>The record a branch or tag points at, or null.</summary>
    public Hash? GetRef(RefName name) => Db.Get(Families.Refs, name.Key) is { } value ? Hash.FromBytes(value) : null;

    public IEnumerable<(RefName Name, Hash Id)> ListRefs() =>
        Db.Scan(Families.Refs).Select(kv => (RefName.FromKey(kv.Key), Hash.FromBytes(kv.Value)));

    public void DeleteRef(RefName name) => Db.Delete(Families.Refs, name.Key);

    /// <summary>
    /// Finds a version by branch name, tag name, or a hex prefix (at least 6 digits) of a record id
    /// or a root hash (the newest record with that root), optionally followed, as in git and lakeFS,
    /// by <c>~N</c> (N versions back along the parents; <c>~</c> alone is one) or <c>^</c> (one back), repeatable.
    /// </summary>
    public (Hash Id, VersionRecord Record) Resolve(string spec)
    {
        int at = spec.IndexOfAny(['~', '^']);
        if (at < 0)
        {
            return ResolveName(spec);
        }

        long back = 0;
        for (int i = at; i < spec.Length;)
        {
            char step = spec[i++];
            int digits = i;
            while (i < spec.Length && char.IsAsciiDigit(spec[i]))
            {
                i++;
            }

            if (step is not ('~' or '^') || (step == '^' && i > digits) || i - digits > 9)
            {
                throw new InvalidInputException($"'{spec}' is not a version: after a name, '~N' goes N versions back and '^' one.");
            }

            back += i > digits ? int.Parse(spec.AsSpan(digits, i - digits), CultureInfo.InvariantCulture) : 1;
        }

        var (head, _) = ResolveName(spec[..at]);
        long done = -1;
        var beyond = Hash.Zero; // the parent of the oldest version in the history
        foreach (var version in History(head))
        {
            if (++done == back)
            {
                return version;
            }

            beyond = version.Record.Parent;
        }

        throw new NotFoundException(beyond.IsZero
            ? $"'{spec}' goes back past the first version: '{spec[..at]}' has {done} before it."
            : $"'{spec}' goes back past the oldest version kept: '{spec[..at]}' has {done} before it, and the ones before those were forgotten.");
    }

    private (Hash Id, VersionRecord Record) ResolveName(string spec)
    {
        if (RefName.IsValid(spec))
        {
            foreach (var name in new[] { RefName.Branch(spec), RefName.Tag(spec) })
            {
                if (GetRef(name) is { } target)
                {
                    return (target, GetVersion(target) ?? throw new CorruptDataException($"{name} points at missing version record {target}."));
                }
            }
        }

        string prefix = spec.ToLowerInvariant();
        if (prefix.Length < 6 || !prefix.All(char.IsAsciiHexDigitLower))
        {
            throw new NotFoundException($"No branch, tag or version '{spec}'.");
        }

        var versions = ListVersions().ToList(); // one scan serves both lookups
        var byId = versions.Where(v => v.Id.ToString().StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (byId.Count == 1)
        {
            return byId[0];
        }

        var byRoot = versions.Where(v => v.Record.Root.ToString().StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(v => v.Record.TimeUnixMs).ToList();
        if (byId.Count == 0 && byRoot.Count > 0 && byRoot.All(v => v.Record.Root == byRoot[0].Record.Root))
        {
            return byRoot[0];
        }

        throw byId.Count + byRoot.Count == 0
            ? new NotFoundException(ForgottenWithPrefix(prefix) is { } forgotten
                ? $"Version record {forgotten} was forgotten (merklesync forget): it can no longer be pulled or named."
                : $"No branch, tag or version '{spec}'.")
            : new InvalidInputException($"'{spec}' is ambiguous; give more digits.");
    }

    /// <summary>
    /// The history from <paramref name="head"/> back to the first version, newest first, stepping
    /// over forgotten versions to the ones kept behind them (a record's parent may therefore not be
    /// the next one). It ends early at a version forgotten before forget recorded parents.
    /// <paramref name="asIfForgotten"/> are stepped over too (a dry run's view of a forget).
    /// </summary>
    public IEnumerable<(Hash Id, VersionRecord Record)> History(Hash head, IReadOnlySet<Hash>? asIfForgotten = null)
    {
        var seen = new HashSet<Hash>();
        for (Hash id = head; !id.IsZero && seen.Add(id);)
        {
            if (IsForgotten(id, out var parent))
            {
                id = parent;
                continue;
            }

            var record = GetVersion(id) ?? throw new CorruptDataException($"History refers to missing version record {id}.");
            if (asIfForgotten?.Contains(id) != true)
            {
                yield return (id, record);
            }

            id = record.Parent;
        }
    }

    public void Dispose()
    {
        if (Volatile.Read(ref _unsettledStoreChanges) == 0)
        {
            _ = Db.TryPut(Families.Meta, ClosedCleanKey, [1]); // if it fails, the next open lists the store: only slower
        }

        Db.Dispose();
        (Blobs as IDisposable)?.Dispose();
        PublishLock.Dispose();
    }

    internal static byte[] Key(Hash hash) => hash.ToArray();

    /// <summary>
    /// Runs a change to the blob store together with the index change that matches it; if it
    /// throws between the two, the change stays unsettled and the repository does not close clean.
    /// </summary>
    internal async Task<T> SettleStoreChangeAsync<T>(Func<Task<T>> change)
    {
        Interlocked.Increment(ref _unsettledStoreChanges);
        var result = await change().ConfigureAwait(false);
        Interlocked.Decrement(ref _unsettledStoreChanges);
        return result;
    }

    /// <inheritdoc cref="SettleStoreChangeAsync{T}(Func{Task{T}})"/>
    internal Task SettleStoreChangeAsync(Func<Task> change) => SettleStoreChangeAsync(async () =>
    {
        await change().ConfigureAwait(false);
        return true;
    });

    private sealed class NodeStore(Repository repository) : ITreeNodeStore
    {
        public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken) =>
            ValueTask.FromResult(repository.Db.Get(Families.Nodes, Key(id)));

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}

/// <summary>A branch ("b/NAME") or tag ("t/NAME") name as stored in the refs family.</summary>
public readonly record struct RefName(bool IsTag, string Name)
{
    public static RefName Branch(string name) => new(false, Validate(name));

    public static RefName Tag(string name) => new(true, Validate(name));

    /// <summary>"tag" or "branch".</summary>
    public string Kind => IsTag ? "tag" : "branch";

    public byte[] Key => Encoding.UTF8.GetBytes((IsTag ? "t/" : "b/") + Name);

    public static RefName FromKey(byte[] key)
    {
        string text = Encoding.UTF8.GetString(key);
        return new RefName(text.StartsWith("t/", StringComparison.Ordinal), text[2..]);
    }

    /// <summary>The ref a key names, or null if it is not one (a key read from a damaged record).</summary>
    public static RefName? TryFromKey(byte[] key) =>
        Encoding.UTF8.GetString(key) is [var kind and ('b' or 't'), '/', .. var name] && IsValid(name) ? new RefName(kind == 't', name) : null;

    /// <summary>Names are 1-100 characters of letters, digits, '.', '_', '-' and '/', not starting with '.' or '-'.</summary>
    public static bool IsValid(string name) =>
        name.Length is > 0 and <= 100 && name[0] is not ('.' or '-') && !name.Contains("..", StringComparison.Ordinal)
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/');

    public override string ToString() => Kind + " " + Name;

    private static string Validate(string name) => IsValid(name)
        ? name
        : throw new InvalidInputException($"'{name}' is not a valid branch or tag name (letters, digits, '.', '_', '-', '/').");
}
