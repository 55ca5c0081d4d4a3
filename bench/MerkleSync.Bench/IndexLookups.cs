using System.Diagnostics;
using MerkleSync.Core.Index;

namespace MerkleSync.Core.Bench;

/// <summary>
/// Point lookups in a large index, as a server answers "which of these chunks do you have" for a
/// repository of N chunks: N random 32-byte keys with 40-byte values (a chunk location) in a real
/// RocksDB, then 200 000 lookups of absent and of present keys: first right after the writes (the
/// newest keys still in memtables, as while a push is indexed; present ones also in calls of many,
/// <see cref="RocksStore.GetMany"/>), then reopened (nothing cached).
/// Prints JSON for bench scripts.
/// </summary>
internal static class IndexLookups
{
    private const int Lookups = 200_000;

    public static void Print(int keys)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"merklesync-lookups-{Guid.NewGuid():N}");
        string[] families = ["default", "chunks"];
        try
        {
            var load = Stopwatch.StartNew();
            double freshAbsent, freshPresent, freshPresentMany;
            using (var store = RocksStore.Open(folder, families, createIfMissing: true))
            {
                var random = new Random(1);
                byte[] key = new byte[32], value = new byte[40];
                for (int done = 0; done < keys; done += 10_000)
                {
                    store.Write(batch =>
                    {
                        for (int i = 0; i < 10_000; i++)
                        {
                            random.NextBytes(key);
                            batch.Put("chunks", key, value);
                        }
                    }, durable: false);
                }

                load.Stop();
                freshAbsent = MicrosPerLookup(store, seed: 99, expectFound: false);
                freshPresent = MicrosPerLookup(store, seed: 1, expectFound: true);
                freshPresentMany = MicrosPerLookupInCallsOfMany(store, seed: 1);
            }

            using var reopened = RocksStore.Open(folder, families, createIfMissing: false);
            double absent = MicrosPerLookup(reopened, seed: 99, expectFound: false);
            double present = MicrosPerLookup(reopened, seed: 1, expectFound: true);
            Console.WriteLine($"{{\"keys\": {keys}, \"load_seconds\": {load.Elapsed.TotalSeconds:F1}, \"absent_us\": {absent:F1}, \"present_us\": {present:F1}, \"fresh_absent_us\": {freshAbsent:F1}, \"fresh_present_us\": {freshPresent:F1}, \"fresh_present_many_us\": {freshPresentMany:F1}}}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double MicrosPerLookup(RocksStore store, int seed, bool expectFound)
    {
        var random = new Random(seed);
        byte[] key = new byte[32];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Lookups; i++)
        {
            random.NextBytes(key);
            if (store.Has("chunks", key) != expectFound)
            {
                throw new InvalidOperationException($"Lookup {i} found {(expectFound ? "nothing" : "a key")}.");
            }
        }

        return clock.Elapsed.TotalMicroseconds / Lookups;
    }

    /// <summary>Present keys in calls of 16 384, as a server checks a part of a push's files.</summary>
    private static double MicrosPerLookupInCallsOfMany(RocksStore store, int seed)
    {
        var random = new Random(seed);
        var keys = new byte[Lookups][];
        for (int i = 0; i < Lookups; i++)
        {
            keys[i] = new byte[32];
            random.NextBytes(keys[i]);
        }

        var clock = Stopwatch.StartNew();
        foreach (var part in keys.Chunk(16_384))
        {
            if (store.GetMany("chunks", part).Any(value => value is null))
            {
                throw new InvalidOperationException("A lookup found nothing.");
            }
        }

        return clock.Elapsed.TotalMicroseconds / Lookups;
    }
}
