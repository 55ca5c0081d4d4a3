using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tests.Support;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.ClientState;

/// <summary>The stat cache in a real client-state RocksDB: a batch lookup answers as a lookup per file would.</summary>
public class StatCacheTests
{
    private static readonly long HashedAt = 10_000_000_000_000;

    private static FileStat Stat(int i, int version = 0) => new(1000 + i, 1_000_000_000 + version, 7, (ulong)i);

    private static ChunkedContent Content(int i) =>
        new(XetHashes.ChunkHash(BitConverter.GetBytes(i)), 1000 + i, [new ChunkRef(XetHashes.ChunkHash(BitConverter.GetBytes(-i)), (uint)(1000 + i))]);

    /// <summary>
    /// Caches every third path, asks for every other one (a changed stat for some), and checks each
    /// answer. The paths not asked for stay in the cache between those that are, as deleted files do.
    /// </summary>
    private static void CheckLookup(List<string> sortedPaths)
    {
        using var temp = new TempFolder();
        using var state = ClientStateStore.Open(temp.Path);
        for (int i = 0; i < sortedPaths.Count; i++)
        {
            if (i % 3 != 1)
            {
                state.RememberAll([(sortedPaths[i], Stat(i), Content(i))], HashedAt);
            }
        }

        var asked = Enumerable.Range(0, sortedPaths.Count).Where(i => i % 2 == 0).ToList();
        var found = state.Lookup([.. asked.Select(i => (sortedPaths[i], Stat(i, version: i % 5 == 0 ? 1 : 0)))], CancellationToken.None);

        Assert.Equal(asked.Count, found.Length);
        for (int k = 0; k < asked.Count; k++)
        {
            int i = asked[k];
            bool expected = i % 3 != 1 && i % 5 != 0;
            Assert.True(expected == found[k] is not null, $"'{sortedPaths[i]}': expected {(expected ? "a hit" : "a miss")}");
            if (expected)
            {
                Assert.Equal(Content(i).FileHash, found[k]!.FileHash);
                Assert.Equal(Content(i).Chunks, found[k]!.Chunks);
            }
        }
    }

    [Property(MaxTest = 40)]
    public void A_batch_lookup_finds_exactly_the_cached_files_with_unchanged_stats(NonEmptyString[] names)
    {
        var paths = names.Select(n => DatasetPath.Validate(n.Get, out var p) is null ? p : null).OfType<string>()
            .Distinct(StringComparer.Ordinal).Order(DatasetPath.Comparer).ToList();
        CheckLookup(paths);
    }

    [Fact]
    public void A_batch_lookup_of_many_files_walks_the_cache_in_several_parts_without_losing_any()
    {
        // Enough files for one walk per core; non-ASCII names check that canonical order is key order.
        var paths = Enumerable.Range(0, 20_000).Select(i => $"d{i % 7}/{(i % 3 == 0 ? "é" : i % 3 == 1 ? "\U0001F600" : "z")}{i:x5}")
            .Order(DatasetPath.Comparer).ToList();
        CheckLookup(paths);
    }

    [Fact]
    public void A_file_changed_before_1970_is_found_in_the_cache()
    {
        using var temp = new TempFolder();
        using var state = ClientStateStore.Open(temp.Path);
        var old = new FileStat(1003, -315_619_200_000_000_000, -1, 42); // 1960-01-01; a ctime one tick before 1970
        state.RememberAll([("old.txt", old, Content(3))], HashedAt);

        Assert.Equal(Content(3).FileHash, state.Lookup([("old.txt", old)], CancellationToken.None)[0]?.FileHash);
        Assert.Null(state.Lookup([("old.txt", old with { ModifiedNs = 0 })], CancellationToken.None)[0]);
    }

    [Fact]
    public void Remembering_many_files_at_once_forgets_those_changed_too_recently_to_trust()
    {
        using var temp = new TempFolder();
        using var state = ClientStateStore.Open(temp.Path);
        var paths = Enumerable.Range(0, 10_000).Select(i => $"f{i:D5}").ToList(); // more than one write's worth
        Assert.True(state.RememberAll(paths.Select((p, i) => (p, Stat(i), Content(i))), HashedAt));

        // Every tenth file rewritten just before it was hashed: not trusted, and its old entry goes.
        long recent = HashedAt - 1_000_000;
        FileStat Now(int i) => i % 10 == 0 ? Stat(i) with { ModifiedNs = recent } : Stat(i);
        Assert.False(state.RememberAll(paths.Select((p, i) => (p, Now(i), Content(i))), HashedAt));

        var found = state.Lookup([.. paths.Select((p, i) => (p, Stat(i)))], CancellationToken.None);
        Assert.All(Enumerable.Range(0, paths.Count), i => Assert.Equal(i % 10 != 0, found[i] is not null));
    }
}
