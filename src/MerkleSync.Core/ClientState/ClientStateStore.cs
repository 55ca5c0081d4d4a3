using System.Buffers;
using System.Text;
using System.Text.Json.Serialization;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Serialization;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// The client's state in a dataset's <c>.merklesync/</c> folder (RocksDB): the stat cache that
/// lets unchanged files go unread, remembered remotes, the version each remote branch was last
/// synced to (with its tree nodes, so <c>status</c> works offline). Deleting the folder loses
/// nothing but speed.
/// </summary>
public sealed class ClientStateStore : IDisposable, Sync.IUploadCheckpoints
{
    private const string StatFamily = "stat";
    private const string RemotesFamily = "remotes";
    private const string TokensFamily = "tokens";
    private const string SyncedFamily = "synced";
    private const string NodesFamily = "nodes";
    private const string UploadsFamily = "uploads";
    private static readonly string[] Families = ["default", StatFamily, RemotesFamily, SyncedFamily, NodesFamily, UploadsFamily, TokensFamily];

    /// <summary>A file modified this recently may change again within the same timestamp tick, so it is not cached.</summary>
    private static readonly long RacyWindowNs = 2_000_000_000;

    private readonly RocksStore _db;

    // The next part number of each upload this process appended to: counting the parts on disk at
    // every append made a pack's checkpoints quadratic (35 MB of garbage per GiB pushed).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _nextUploadPart = new(StringComparer.Ordinal);

    private ClientStateStore(string datasetRoot, RocksStore db)
    {
        DatasetRoot = datasetRoot;
        _db = db;
        Nodes = new NodeCache(db);
    }

    public string DatasetRoot { get; }

    public string StateFolder => FolderOf(DatasetRoot);

    /// <summary>The state folder of a dataset directory.</summary>
    public static string FolderOf(string datasetRoot) => Path.Combine(Path.GetFullPath(datasetRoot), DatasetPath.StateFolderName);

    /// <summary>Where pulls stage files before renaming them into place (same file system as the dataset).</summary>
    public static string StagingFolderOf(string datasetRoot) => Path.Combine(FolderOf(datasetRoot), "tmp");

    /// <summary>
    /// A name for a file staged in <see cref="StagingFolderOf"/> (or a subfolder): it starts with the id of the process
    /// staging it, so that opening the state (which clears what interrupted pulls left) spares the
    /// files of a pull still running, which may stage before it has the state open.
    /// </summary>
    public static string StagedFileName() => $"{Environment.ProcessId}.{Guid.NewGuid():N}.partial";

    /// <summary>Tree nodes of synced versions.</summary>
    public ITreeNodeStore Nodes { get; }

    public bool HasNode(Hash id) => _db.Has(NodesFamily, id.ToArray());

    private static readonly byte[] LastTreeKey = Encoding.ASCII.GetBytes("last-tree");
    private static readonly byte[] LastSyncedKey = Encoding.ASCII.GetBytes("last-synced");
    private static readonly byte[] PartialPullsKey = Encoding.ASCII.GetBytes("partial-pulls");

    /// <summary>How many partial pulls since the last full sync are remembered; files of older ones count as local changes.</summary>
    private const int MaxPartialPulls = 16;

    /// <summary>Remembers that the entries with <paramref name="entriesDigest"/> make the tree <paramref name="root"/>, whose nodes are all in <see cref="Nodes"/>.</summary>
    public void RememberTree(Hash entriesDigest, Hash root) =>
        _db.PutIfChanged("default", LastTreeKey, [.. entriesDigest.ToArray(), .. root.ToArray()], durable: false);

    /// <summary>The root of the remembered tree if it was built from entries with this digest and its nodes are here.</summary>
    public Hash? RememberedTree(Hash entriesDigest) =>
        _db.Get("default", LastTreeKey) is { Length: 2 * Hash.Size } value && Hash.FromBytes(value.AsSpan(0, Hash.Size)) == entriesDigest
            && Hash.FromBytes(value.AsSpan(Hash.Size)) is var root && HasNode(root) ? root : null;

    public static ClientStateStore Open(string datasetRoot)
    {
        string root = Path.GetFullPath(datasetRoot), folder = FolderOf(root);
        var state = new ClientStateStore(root, OpenDatabase(root, readOnly: false));
        string staging = CreateStagingFolder(root);
        if (Directory.Exists(Path.Combine(folder, "uploads")))
        {
            Directory.Delete(Path.Combine(folder, "uploads"), recursive: true); // the pack spool of earlier builds
        }

        // A first pull stages while its state opens, so this may list thousands of its files: each
        // process is looked up once.
        var processStarts = new Dictionary<int, DateTime?>();
        foreach (string leftover in Directory.EnumerateFiles(staging, "*", StagedFiles))
        {
            if (!StagedByRunningProcess(leftover, processStarts) && !Restore.VerifiedStagedFiles.IsKept(leftover))
            {
                File.Delete(leftover); // from an interrupted pull (files it verified stay for the next one)
            }
        }

        state.MoveTokensOutOfDatabase();

        return state;
    }

    /// <summary>
    /// Files in the staging folder and its subfolders, where small files are staged; never through a
    /// symbolic link, which could lead the clean-up to files outside the state folder.
    /// </summary>
    private static readonly EnumerationOptions StagedFiles = new() { RecurseSubdirectories = true, MaxRecursionDepth = 1, AttributesToSkip = FileAttributes.ReparsePoint };

    private static bool StagedByRunningProcess(string stagedFile, Dictionary<int, DateTime?> processStarts)
    {
        string name = Path.GetFileName(stagedFile);
        if (!int.TryParse(name.AsSpan(0, Math.Max(0, name.IndexOf('.', StringComparison.Ordinal))), out int processId))
        {
            return false;
        }

        if (!processStarts.TryGetValue(processId, out var started))
        {
            processStarts[processId] = started = StartOfRunningProcess(processId);
        }

        // A process id is reused (in a container every run may be process 1): the file must also be
        // younger than the process.
        return started is { } start && File.GetLastWriteTimeUtc(stagedFile) >= start;
    }

    private static DateTime? StartOfRunningProcess(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            return process.HasExited ? null : process.StartTime.ToUniversalTime();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null; // no such process (any more)
        }
    }

    /// <summary>
    /// Opens an existing state to read (remote names, tokens): no lock, so it works while another
    /// process pushes, and no log replay or manifest rewrite, so it costs a fraction of <see cref="Open"/>.
    /// </summary>
    public static ClientStateStore OpenToRead(string datasetRoot)
    {
        string root = Path.GetFullPath(datasetRoot);
        return new ClientStateStore(root, OpenDatabase(root, readOnly: true));
    }

    /// <summary>Creates the folder a pull stages files in (if missing) and returns its path.</summary>
    public static string CreateStagingFolder(string datasetRoot)
    {
        string root = Path.GetFullPath(datasetRoot);
        return CreateStateFolder(root, StagingFolderOf(root));
    }

    private static string CreateStateFolder(string root, string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            return folder;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidInputException(
                $"'{root}' is not writable by this user ({e.Message}): MerkleSync keeps each dataset directory's state (stat cache, remotes, last sync; none of the data) in '{FolderOf(root)}'. Give this user write access to the directory, or work on a writable copy.", e);
        }
    }

    /// <summary>Opens the state's database; what is in the way or damaged gets an error that says what to do.</summary>
    private static RocksStore OpenDatabase(string root, bool readOnly)
    {
        string folder = FolderOf(root), path = Path.Combine(folder, "state");
        if (File.Exists(folder))
        {
            throw new InvalidInputException($"'{folder}' is a file, where MerkleSync keeps the state of '{root}' in a folder: move the file away and run again.");
        }

        if (!readOnly)
        {
            CreateStateFolder(root, folder);
        }

        try
        {
            return RocksStore.Open(path, Families, createIfMissing: !readOnly, readOnly);
        }
        catch (CorruptDataException e)
        {
            // It is a cache of what the data and the remote say, not data: starting afresh loses only speed and names.
            throw new CorruptDataException(
                $"{e.Message}. This is MerkleSync's own state for '{root}' (stat cache, remote names, last sync), not your data: move '{path}' " +
                "away and run again. The next push reads every file once, and remotes added with 'remote add' must be added again.", e);
        }
    }

    /// <summary>
    /// The cached content of each file whose stat is unchanged since it was cached (null for the
    /// others). The files come in canonical path order, which is the cache's key order, so an ordered
    /// walk per core replaces a point read per file (a third of a no-change push of 100k files).
    /// </summary>
    public ChunkedContent?[] Lookup(IReadOnlyList<(string Path, FileStat Stat)> files, CancellationToken cancellationToken)
    {
        var found = new ChunkedContent?[files.Count];
        int parts = Math.Clamp(files.Count / MinFilesPerWalk, 1, Environment.ProcessorCount);
        Parallel.For(0, parts, new ParallelOptions { CancellationToken = cancellationToken }, part =>
        {
            int i = (int)((long)files.Count * part / parts), end = (int)((long)files.Count * (part + 1) / parts);
            if (i == end)
            {
                return;
            }

            // Paths are encoded into one buffer and compared with the keys where they lie.
            byte[] buffer = new byte[256];
            int length = 0;
            void Encode()
            {
                string path = files[i].Path;
                if (Encoding.UTF8.GetMaxByteCount(path.Length) > buffer.Length)
                {
                    buffer = new byte[Encoding.UTF8.GetMaxByteCount(path.Length)];
                }

                length = Encoding.UTF8.GetBytes(path, buffer);
            }

            Encode();
            using var cursor = _db.Seek(StatFamily, buffer.AsSpan(0, length));
            while (cursor.Valid)
            {
                int order = cursor.Key.SequenceCompareTo(buffer.AsSpan(0, length));
                if (order < 0)
                {
                    cursor.Next(); // a cached path that is gone from the directory
                    continue;
                }

                if (order == 0)
                {
                    found[i] = Decode(cursor.Value, files[i].Stat);
                    cursor.Next();
                }

                if (++i == end)
                {
                    return; // else files[i - 1] was found, or is not cached (the key is past it)
                }

                Encode();
            }
        });
        return found;
    }

    private const int MinFilesPerWalk = 4096;

    /// <summary>A cache entry's value, as <see cref="Decode"/> reads it: the stat, then the file hash and chunk list.</summary>
    private static ReadOnlyMemory<byte> EncodeValue(FileStat stat, ChunkedContent content)
    {
        var writer = new ArrayBufferWriter<byte>(64 + (content.Chunks.Length * 36));
        stat.WriteTo(writer);
        Varint.WriteHash(writer, content.FileHash);
        Varint.WriteChunkList(writer, content.Chunks);
        return writer.WrittenMemory;
    }

    /// <summary>The cached content if the entry is for <paramref name="stat"/>; an entry it cannot read is a miss (the file is hashed again and the entry rewritten).</summary>
    private static ChunkedContent? Decode(ReadOnlySpan<byte> value, FileStat stat)
    {
        try
        {
            return DecodeValue(value, stat);
        }
        catch (CorruptDataException)
        {
            return null;
        }
    }

    private static ChunkedContent? DecodeValue(ReadOnlySpan<byte> value, FileStat stat)
    {
        var reader = new SpanReader(value);
        if (FileStat.ReadFrom(ref reader) != stat)
        {
            return null;
        }

        var fileHash = reader.ReadHash();
        return new ChunkedContent(fileHash, stat.Size, reader.ReadChunkList());
    }

    /// <summary>
    /// Remembers files' content for their current stats, a few thousand to a write (100k single
    /// writes cost a pull of small files about half a second). A file that changed too recently to
    /// trust is forgotten instead; false if any was.
    /// </summary>
    public bool RememberAll(IEnumerable<(string Path, FileStat Stat, ChunkedContent Content)> files, long hashedAtNs)
    {
        bool allTrusted = true;
        foreach (var part in files.Chunk(4096))
        {
            _db.Write(batch =>
            {
                foreach (var (path, stat, content) in part)
                {
                    byte[] key = Encoding.UTF8.GetBytes(path);
                    if (stat.Size != content.Length || hashedAtNs - stat.ModifiedNs < RacyWindowNs)
                    {
                        batch.Delete(StatFamily, key);
                        allTrusted = false;
                        continue;
                    }

                    batch.Put(StatFamily, key, EncodeValue(stat, content).Span);
                }
            }, durable: false);
        }

        return allTrusted;
    }

    public void Forget(string path) => _db.Delete(StatFamily, Encoding.UTF8.GetBytes(path), durable: false);

    public static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    public string? GetRemote(string name) =>
        _db.Get(RemotesFamily, Encoding.UTF8.GetBytes(name)) is { } url ? Encoding.UTF8.GetString(url) : null;

    public void SetRemote(string name, string url) => _db.PutIfChanged(RemotesFamily, Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(url));

    /// <summary>Names the remote of a directory's first push or pull 'origin'; syncs with other remotes later do not move it, as in git.</summary>
    public void NameOriginIfUnset(string url)
    {
        if (GetRemote("origin") is null)
        {
            SetRemote("origin", url);
        }
    }

    /// <summary>Forgets a named remote; returns the URL it named, or null if there was none.</summary>
    public string? RemoveRemote(string name)
    {
        string? url = GetRemote(name);
        _db.Delete(RemotesFamily, Encoding.UTF8.GetBytes(name));
        return url;
    }

    // Bearer tokens live in their own file, .merklesync/tokens (a JSON object from server URL to
    // token, mode 0600), not in the database: only their owner can read them, and opening a remote
    // does not have to bind RocksDB. States from before keep them in the "tokens" family until
    // their next writable open moves them.
    private const string TokensFileName = "tokens";

    /// <summary>The bearer token stored for a server URL (by <c>remote add --token-stdin</c>), if any.</summary>
    public string? GetToken(string url) =>
        ReadTokens(StateFolder) is { } tokens ? tokens.GetValueOrDefault(url)
            : _db.Get(TokensFamily, Encoding.UTF8.GetBytes(url)) is { } token ? Encoding.UTF8.GetString(token) : null;

    /// <summary>The token stored for <paramref name="url"/> in <paramref name="datasetRoot"/>'s state, read without opening the database where it can be.</summary>
    public static string? StoredToken(string datasetRoot, string url)
    {
        if (!Exists(datasetRoot))
        {
            return null;
        }

        if (ReadTokens(FolderOf(datasetRoot)) is { } tokens)
        {
            return tokens.GetValueOrDefault(url);
        }

        using var state = OpenToRead(datasetRoot);
        return state.GetToken(url);
    }

    public void SetToken(string url, string? token)
    {
        var tokens = ReadTokens(StateFolder) ?? [];
        if (token is null)
        {
            tokens.Remove(url);
        }
        else
        {
            tokens[url] = token;
        }

        WriteTokens(StateFolder, tokens);
    }

    private void MoveTokensOutOfDatabase()
    {
        if (File.Exists(Path.Combine(StateFolder, TokensFileName)))
        {
            return; // moved already: no need to parse it on every open
        }

        var tokens = _db.Scan(TokensFamily).ToDictionary(kv => Encoding.UTF8.GetString(kv.Key), kv => Encoding.UTF8.GetString(kv.Value), StringComparer.Ordinal);
        WriteTokens(StateFolder, tokens);
        foreach (string url in tokens.Keys)
        {
            _db.Delete(TokensFamily, Encoding.UTF8.GetBytes(url));
        }
    }

    private static Dictionary<string, string>? ReadTokens(string stateFolder)
    {
        try
        {
            return new Dictionary<string, string>(
                System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(stateFolder, TokensFileName)), ClientStateJson.Default.DictionaryStringString) ?? [], StringComparer.Ordinal);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new CorruptDataException($"'{Path.Combine(stateFolder, TokensFileName)}' is not a JSON object of server URLs and tokens; fix or delete it and store the tokens again with 'merklesync remote add'.", e);
        }
    }

    private static void WriteTokens(string stateFolder, Dictionary<string, string> tokens) =>
        StateFile.Replace(Path.Combine(stateFolder, TokensFileName), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(tokens, ClientStateJson.Default.DictionaryStringString), ownerOnly: true);

    public IReadOnlyList<(string Name, string Url)> ListRemotes() =>
        [.. _db.Scan(RemotesFamily).Select(kv => (Encoding.UTF8.GetString(kv.Key), Encoding.UTF8.GetString(kv.Value)))];

    /// <summary>
    /// Whether <paramref name="datasetRoot"/> has client state (without creating any). A database
    /// whose creation a killed process left before its CURRENT file does not count: only a
    /// read-write open can finish it.
    /// </summary>
    public static bool Exists(string datasetRoot) =>
        File.Exists(Path.Combine(Path.GetFullPath(datasetRoot), DatasetPath.StateFolderName, "state", "CURRENT"));

    /// <summary>The version (record id, root) this directory last pushed to or pulled from a remote branch.</summary>
    public (Hash Id, Hash Root)? GetSynced(string remoteUrl, string branch)
    {
        if (_db.Get(SyncedFamily, SyncedKey(remoteUrl, branch)) is not { Length: 64 } value)
        {
            return null;
        }

        return (Hash.FromBytes(value.AsSpan(0, 32)), Hash.FromBytes(value.AsSpan(32)));
    }

    public void SetSynced(string remoteUrl, string branch, Hash id, Hash root)
    {
        byte[] key = SyncedKey(remoteUrl, branch);
        byte[] value = [.. id.ToArray(), .. root.ToArray()];
        if (_db.Get(SyncedFamily, key) is { } current && current.AsSpan().SequenceEqual(value) && _db.Get("default", LastSyncedKey) is { } last && last.AsSpan().SequenceEqual(key)
            && _db.Get("default", PartialPullsKey) is null)
        {
            return; // an unchanged write would still cost a log sync
        }

        _db.WriteDurable(batch =>
        {
            batch.Put(SyncedFamily, key, value);
            batch.Put("default", LastSyncedKey, key);
            batch.Delete("default", PartialPullsKey); // every file is now as the synced version has it, or a change
        });
    }

    /// <summary>
    /// Remembers the root of a version a pull with <c>--path</c> wrote files of: such a pull is no
    /// base to push from, but the files it wrote are not local changes that a later pull must keep.
    /// </summary>
    public void AddPartialPull(Hash root)
    {
        var roots = PartialPullRoots().Where(r => r != root).Append(root).TakeLast(MaxPartialPulls);
        _db.Put("default", PartialPullsKey, [.. roots.SelectMany(r => r.ToArray())]);
    }

    /// <summary>Roots of the versions partially pulled since the last push or full pull, oldest first.</summary>
    public IReadOnlyList<Hash> PartialPullRoots() =>
        _db.Get("default", PartialPullsKey) is { } value ? [.. value.Chunk(32).Where(c => c.Length == 32).Select(c => Hash.FromBytes(c))] : [];

    /// <summary>The synced version with record id <paramref name="recordId"/> on any branch of the remote, if this directory synced it.</summary>
    public (Hash Id, Hash Root)? FindSynced(string remoteUrl, Hash recordId)
    {
        foreach (var (key, value) in _db.Scan(SyncedFamily, Encoding.UTF8.GetBytes(remoteUrl + "\n")))
        {
            if (value.Length == 64 && Hash.FromBytes(value.AsSpan(0, 32)) == recordId)
            {
                return (recordId, Hash.FromBytes(value.AsSpan(32)));
            }
        }

        return null;
    }

    /// <summary>The version this directory last pushed or pulled, on whichever remote and branch: what its files were then.</summary>
    public (Hash Id, Hash Root)? GetLastSynced() => LastSynced() is { } last ? GetSynced(last.Remote, last.Branch) : null;

    /// <summary>The (remote, branch) last pushed to or pulled from, for commands that are not told which.</summary>
    public (string Remote, string Branch)? LastSynced()
    {
        // A state written before the last-synced record has its synced pairs only: take the first.
        byte[]? key = _db.Get("default", LastSyncedKey) ?? _db.Scan(SyncedFamily).Select(kv => kv.Key).FirstOrDefault();
        if (key is null)
        {
            return null;
        }

        string text = Encoding.UTF8.GetString(key);
        int split = text.LastIndexOf('\n');
        return (text[..split], text[(split + 1)..]);
    }

    // An upload is a head record under its name and chunk lists under name + "\n" + sequence
    // number, so each piece sent adds a small record instead of rewriting a growing one. Not synced
    // to disk: a process killed after a write still has it; a machine that loses it leaves an
    // upload on the server that expires.
    public void Begin(string name, string remoteUrl, string uploadUrl, Packs.Compression compression) =>
        _db.Put(UploadsFamily, Encoding.UTF8.GetBytes(name), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new UploadHead(remoteUrl, uploadUrl, compression), ClientStateJson.Default.UploadHead), durable: false);

    public void AppendChunks(string name, IReadOnlyList<Ingest.ChunkOrigin> chunks)
    {
        int next = _nextUploadPart.AddOrUpdate(name, n => _db.Keys(UploadsFamily, Encoding.UTF8.GetBytes(n + "\n")).Count(), (_, last) => last + 1);
        _db.Put(UploadsFamily, Encoding.UTF8.GetBytes($"{name}\n{next:D8}"), UploadSources.Encode(chunks), durable: false);
    }

    public void Remove(string name)
    {
        _nextUploadPart.TryRemove(name, out _);
        foreach (var key in _db.Keys(UploadsFamily, Encoding.UTF8.GetBytes(name)).ToList())
        {
            _db.Delete(UploadsFamily, key, durable: false);
        }
    }

    public IReadOnlyList<Sync.UploadCheckpoint> List()
    {
        var uploads = new Dictionary<string, (UploadHead? Head, List<Ingest.ChunkOrigin> Chunks)>(StringComparer.Ordinal);
        foreach (var (key, value) in _db.Scan(UploadsFamily)) // parts sort after their head, in sequence
        {
            string[] name = Encoding.UTF8.GetString(key).Split('\n', 2);
            var upload = uploads.TryGetValue(name[0], out var found) ? found : (null, []);
            if (name.Length == 2)
            {
                upload.Chunks.AddRange(UploadSources.Decode(value));
            }
            else
            {
                upload.Head = System.Text.Json.JsonSerializer.Deserialize(value, ClientStateJson.Default.UploadHead);
            }

            uploads[name[0]] = upload;
        }

        return [.. uploads.Where(u => u.Value.Head is not null)
            .Select(u => new Sync.UploadCheckpoint(u.Key, u.Value.Head!.RemoteUrl, u.Value.Head.UploadUrl, u.Value.Head.Compression, u.Value.Chunks))];
    }

    /// <summary>A head without <c>Compression</c> (written before the option existed) was compressed with zstd.</summary>
    internal sealed record UploadHead(
        string RemoteUrl, string UploadUrl, [property: JsonConverter(typeof(JsonStringEnumConverter<Packs.Compression>))] Packs.Compression Compression = Packs.Compression.Zstd);

    public void Dispose() => _db.Dispose();

    private static byte[] SyncedKey(string remoteUrl, string branch) => Encoding.UTF8.GetBytes(remoteUrl + "\n" + branch);

    private sealed class NodeCache(RocksStore db) : ITreeNodeStore
    {
        public ValueTask<byte[]?> TryGetAsync(Hash id, CancellationToken cancellationToken) => ValueTask.FromResult(db.Get(NodesFamily, id.ToArray()));

        public ValueTask PutAsync(Hash id, byte[] encoded, CancellationToken cancellationToken)
        {
            db.Put(NodesFamily, id.ToArray(), encoded, durable: false);
            return ValueTask.CompletedTask;
        }
    }
}
