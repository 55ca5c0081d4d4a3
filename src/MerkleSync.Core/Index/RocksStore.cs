using MerkleSync.Core.Errors;
using RocksDbSharp;

namespace MerkleSync.Core.Index;

/// <summary>
/// A RocksDB database with named column families. Writes that other state depends on go through
/// <see cref="WriteDurable"/>, which syncs the WAL before returning.
/// </summary>
public sealed class RocksStore : IDisposable
{
    private readonly RocksDb _db;
    private readonly Dictionary<string, ColumnFamilyHandle> _families = new(StringComparer.Ordinal);
    private bool _readOnly;
    private readonly WriteOptions _durable = new WriteOptions().SetSync(true);
    private readonly WriteOptions _relaxed = new WriteOptions().SetSync(false);

    private RocksStore(RocksDb db, IEnumerable<string> families)
    {
        _db = db;
        foreach (string name in families)
        {
            _families[name] = db.GetColumnFamily(name);
        }
    }

    public string Path { get; private init; } = "";

    private const ulong WriteBufferBudget = 16 << 20;

    /// <summary>
    /// Threads an open starts per column family to read its table files (RocksDB's default, 16, made
    /// every command start and stop about 200 threads, one per family and thread, for databases of a
    /// few files each).
    /// </summary>
    private static readonly int MaxFileOpeningThreads = Math.Clamp(Environment.ProcessorCount, 1, 16);

    /// <summary>One block cache for every database this process opens.</summary>
    private static readonly Cache BlockCache = Cache.CreateLru(16 << 20);

    /// <summary>
    /// Opens (creating if asked) the database at <paramref name="path"/> with the given column
    /// families; read-only opens take no lock, and a family the database lacks reads as empty there.
    /// </summary>
    public static RocksStore Open(string path, IReadOnlyList<string> families, bool createIfMissing, bool readOnly = false)
    {
        if (!createIfMissing && !Directory.Exists(path))
        {
            throw new NotFoundException($"No database at '{path}'.");
        }

        // Memory stays flat as a repository grows: memtables share one budget and index and filter
        // blocks live in the bounded block cache instead of beside it (where they grow with the data).
        var options = new DbOptions()
            .SetCreateIfMissing(createIfMissing)
            .SetCreateMissingColumnFamilies(true)
            .SetKeepLogFileNum(4)
            .SetMaxOpenFiles(256)
            .SetMaxFileOpeningThreads(MaxFileOpeningThreads)
            .SetDbWriteBufferSize(WriteBufferBudget);
        // A process killed while creating a database leaves it without the families it had not
        // created yet (read-write opens create them), as does an older version that had fewer.
        // Only a read-write open may create them; a read-only one opens those there are.
        IReadOnlyList<string> opened = readOnly ? Present(options, path, families) : families;
        var columnFamilies = new ColumnFamilies();
        foreach (string name in opened)
        {
            columnFamilies.Add(name, FamilyOptions());
        }

        // Another process (a push, a gc) may hold the database: wait for it, within a bound.
        var deadline = DateTime.UtcNow + LockWait;
        while (true)
        {
            try
            {
                var db = readOnly ? RocksDb.OpenReadOnly(options, path, columnFamilies, errIfLogFileExists: false) : RocksDb.Open(options, path, columnFamilies);
                return new RocksStore(db, opened) { Path = path, _readOnly = readOnly };
            }
            catch (RocksDbException e) when (e.Message.Contains("lock", StringComparison.OrdinalIgnoreCase))
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new ConflictException($"The database at '{path}' is in use by another MerkleSync process and stayed busy for {LockWait.TotalSeconds:F0} s; try again when it has finished.", e);
                }

                Thread.Sleep(200);
            }
            catch (RocksDbException e)
            {
                // Not a lock: the path is not a database folder, is unreadable, or is damaged.
                throw CannotOpen(path, e);
            }
        }
    }

    private static IReadOnlyList<string> Present(DbOptions options, string path, IReadOnlyList<string> families)
    {
        try
        {
            var present = RocksDb.ListColumnFamilies(options, path).ToHashSet(StringComparer.Ordinal);
            return [.. families.Where(present.Contains)];
        }
        catch (RocksDbException e)
        {
            throw CannotOpen(path, e);
        }
    }

    private static CorruptDataException CannotOpen(string path, RocksDbException e) => new($"Cannot open the database at '{path}': {e.Message}", e);

    /// <summary>
    /// Most lookups ask for a key that is not there (is this chunk, file, node new?), and RocksDB
    /// searched the memtable's skip list for each before its table files' bloom filters (a server
    /// taking 400k new files spent about 15% of its CPU there). A bloom filter over the memtable's
    /// whole keys answers those at once (bench <c>lookups</c>: 4.5 -> 2.0 µs for keys just written).
    /// Memtables are at most <see cref="WriteBufferBudget"/> (all families share that budget), and
    /// their filter is 2% of that, 0.3 MiB, ~16 bits a key when full.
    /// </summary>
    private static ColumnFamilyOptions FamilyOptions()
    {
        var options = new ColumnFamilyOptions()
            .SetBlockBasedTableFactory(TableOptions())
            .SetWriteBufferSize(WriteBufferBudget)
            .SetMemtablePrefixBloomSizeRatio(0.02);
        Native.Instance.rocksdb_options_set_memtable_whole_key_filtering(options.Handle, 1);
        return options;
    }

    /// <summary>
    /// Keys are hashes, looked up one by one and mostly absent (is this chunk new?). Index and bloom
    /// filter are partitioned into 4 KiB blocks, so a lookup brings one small partition of each into
    /// the bounded cache: whole index blocks (megabytes per file) stopped fitting in it at about
    /// 2 million keys, and every lookup then re-read one. With 5 million chunk locations: 225 µs per
    /// lookup before, about 10-20 µs after (bench `lookups`).
    /// </summary>
    private static BlockBasedTableOptions TableOptions()
    {
        var table = new BlockBasedTableOptions()
            .SetBlockCache(BlockCache)
            .SetCacheIndexAndFilterBlocks(true)
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false))
            .SetIndexType(BlockBasedTableIndexType.TwoLevelIndex);
        Native.Instance.rocksdb_block_based_options_set_partition_filters(table.Handle, 1);
        Native.Instance.rocksdb_block_based_options_set_metadata_block_size(table.Handle, 4096UL);
        // The top level of each file's index and filter (a few KiB) stays in the cache.
        Native.Instance.rocksdb_block_based_options_set_pin_top_level_index_and_filter(table.Handle, 1);
        Native.Instance.rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(table.Handle, 1);
        return table;
    }

    /// <summary>How long to wait for another process to release the database (MERKLESYNC_LOCK_WAIT_SECONDS overrides).</summary>
    public static TimeSpan LockWait { get; } = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("MERKLESYNC_LOCK_WAIT_SECONDS"), out int seconds) && seconds >= 0 ? seconds : 120);

    public byte[]? Get(string family, ReadOnlySpan<byte> key) => Absent(family) ? null : _db.Get(key.ToArray(), Family(family));

    /// <summary>
    /// The values of <paramref name="keys"/> (null where absent), looked up in key order, many per
    /// call: RocksDB then finds neighbouring keys in the same blocks and pays its per-lookup work
    /// once per call. Present keys written just before, as a server checks what a push stored:
    /// a third to a half less time than one call each (bench <c>lookups</c>).
    /// </summary>
    public byte[]?[] GetMany(string family, IReadOnlyList<byte[]> keys)
    {
        var values = new byte[]?[keys.Count];
        if (Absent(family))
        {
            return values;
        }

        int[] order = [.. Enumerable.Range(0, keys.Count)];
        int Compare(int a, int b) => keys[a].AsSpan().SequenceCompareTo(keys[b]);
        bool sorted = true; // callers that write in key order pass them sorted already
        for (int i = 1; i < keys.Count && sorted; i++)
        {
            sorted = Compare(i - 1, i) <= 0;
        }

        if (!sorted)
        {
            Array.Sort(order, Compare);
        }

        var handle = Family(family);
        foreach (var part in order.Chunk(MaxKeysPerMultiGet))
        {
            var found = _db.MultiGet([.. part.Select(i => keys[i])], [.. part.Select(_ => handle)]);
            for (int i = 0; i < part.Length; i++)
            {
                values[part[i]] = found[i].Value;
            }
        }

        return values;
    }

    /// <summary>Keys per RocksDB call of <see cref="GetMany"/>: bounds the arrays of one call.</summary>
    private const int MaxKeysPerMultiGet = 4096;

    public bool Has(string family, ReadOnlySpan<byte> key) => !Absent(family) && _db.HasKey(key, Family(family));

    public void Put(string family, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool durable = true) =>
        _db.Put(key, value, Family(family), durable ? _durable : _relaxed);

    /// <summary>A durable put that reports failure instead of throwing, for writes that only save work later.</summary>
    public bool TryPut(string family, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        try
        {
            Put(family, key, value);
            return true;
        }
        catch (Exception e) when (e is RocksDbException or IOException)
        {
            return false;
        }
    }

    public void Delete(string family, ReadOnlySpan<byte> key, bool durable = true) =>
        _db.Remove(key, Family(family), durable ? _durable : _relaxed);

    /// <summary>Applies a batch atomically and syncs it to disk before returning.</summary>
    public void WriteDurable(Action<Batch> fill) => Write(fill, durable: true);

    /// <summary>Applies a batch atomically; one write instead of one per key.</summary>
    public void Write(Action<Batch> fill, bool durable)
    {
        using var batch = new WriteBatch();
        fill(new Batch(this, batch));
        _db.Write(batch, durable ? _durable : _relaxed);
    }

    /// <summary>All (key, value) pairs of a family whose key starts with <paramref name="prefix"/>, in key order.</summary>
    public IEnumerable<(byte[] Key, byte[] Value)> Scan(string family, byte[]? prefix = null) => WithValues(Walk(family, prefix, prefix));

    /// <summary>A cursor on the first key of a family at or after <paramref name="start"/>.</summary>
    public Cursor Seek(string family, ReadOnlySpan<byte> start)
    {
        if (Absent(family))
        {
            return new Cursor(null);
        }

        var iterator = _db.NewIterator(Family(family));
        iterator.Seek(start);
        return new Cursor(iterator);
    }

    /// <summary>
    /// Walks a family forward in key order, reading keys and values in place: for walks over many
    /// keys, which would otherwise copy every key and value into a new array.
    /// </summary>
    public sealed class Cursor(Iterator? iterator) : IDisposable
    {
        public bool Valid => iterator?.Valid() == true;

        /// <summary>The current key; valid until the next move.</summary>
        public ReadOnlySpan<byte> Key => At.GetKeySpan();

        /// <summary>The current value; valid until the next move.</summary>
        public ReadOnlySpan<byte> Value => At.GetValueSpan();

        private Iterator At => iterator ?? throw new InvalidOperationException("The cursor is past the end.");

        public void Next() => At.Next();

        /// <summary>Moves to the first key at or after <paramref name="target"/>.</summary>
        public void Seek(ReadOnlySpan<byte> target) => iterator?.Seek(target);

        public void Dispose() => iterator?.Dispose();
    }

    /// <summary>The keys of a family that start with <paramref name="prefix"/>, in order (values are not read).</summary>
    public IEnumerable<byte[]> Keys(string family, byte[] prefix) => Walk(family, prefix, prefix).Select(position => position.Key);

    private static IEnumerable<(byte[] Key, byte[] Value)> WithValues(IEnumerable<(Iterator Iterator, byte[] Key)> walk)
    {
        foreach (var (iterator, key) in walk)
        {
            yield return (key, iterator.Value());
        }
    }

    // Steps an iterator from a key on, over the keys with the prefix; it stays on each key until the next step.
    private IEnumerable<(Iterator Iterator, byte[] Key)> Walk(string family, byte[]? start, byte[]? prefix)
    {
        if (Absent(family))
        {
            yield break;
        }

        using var iterator = _db.NewIterator(Family(family));
        if (start is null)
        {
            iterator.SeekToFirst();
        }
        else
        {
            iterator.Seek(start);
        }

        for (; iterator.Valid(); iterator.Next())
        {
            byte[] key = iterator.Key();
            if (prefix is not null && !key.AsSpan().StartsWith(prefix))
            {
                yield break;
            }

            yield return (iterator, key);
        }
    }

    /// <summary>
    /// Flushes large memtables before closing (read-write opens), so the next open does not replay a
    /// long log: after a first push of 100k files that replay cost the next command ~0.1 s. Small
    /// ones stay in the log, which is cheaper to replay than a flush is to write.
    /// </summary>
    public void Dispose()
    {
        if (!_readOnly)
        {
            var flush = new FlushOptions().SetWaitForFlush(true);
            foreach (var family in _families.Values)
            {
                if (ulong.TryParse(_db.GetProperty("rocksdb.cur-size-all-mem-tables", family), out ulong bytes) && bytes >= FlushOnCloseBytes)
                {
                    Native.Instance.rocksdb_flush_cf(_db.Handle, flush.Handle, family.Handle);
                }
            }
        }

        _db.Dispose();
    }

    private const ulong FlushOnCloseBytes = 1 << 20;

    /// <summary>Writes only when the stored value differs (an unchanged write would still cost a log sync).</summary>
    public void PutIfChanged(string family, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool durable = true)
    {
        if (Get(family, key) is not { } current || !value.SequenceEqual(current))
        {
            Put(family, key, value, durable);
        }
    }

    /// <summary>A family a read-only open found missing (see <see cref="Open"/>): it reads as empty.</summary>
    private bool Absent(string family) => _readOnly && !_families.ContainsKey(family);

    private ColumnFamilyHandle Family(string name) =>
        _families.TryGetValue(name, out var handle) ? handle : throw new ArgumentException($"Unknown column family '{name}'.", nameof(name));

    /// <summary>Collects writes for <see cref="Write"/>.</summary>
    public readonly struct Batch
    {
        private readonly RocksStore _store;
        private readonly WriteBatch _batch;

        internal Batch(RocksStore store, WriteBatch batch)
        {
            _store = store;
            _batch = batch;
        }

        public void Put(string family, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _batch.Put(key, value, _store.Family(family));

        public void Delete(string family, ReadOnlySpan<byte> key) => _batch.Delete(key, _store.Family(family));
    }
}
