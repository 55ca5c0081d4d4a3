using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Sync;

public class KeptBytesTests
{
    [Fact]
    public async Task A_small_files_kept_bytes_are_packed_without_reading_the_file_and_then_released()
    {
        using var temp = new TempFolder();
        string gone = Path.Combine(temp.Path, "deleted-after-hashing.bin"); // never written: a read would fail
        byte[] content = DatasetFiles.Random(1, 5_000);
        using var budget = new KeptBytesBudget(8_000);
        var kept = budget.TryKeep(content)!;
        Assert.Null(budget.TryKeep(content)); // no room left for a second file
        var origin = new ChunkOrigin(gone, false, 0, content.Length, XetHashes.ChunkHash(content), Kept: kept);

        await foreach (var batch in EncodedBatch.ReadAllAsync(new[] { origin }, rehashAll: false, Compression.Off, CancellationToken.None))
        {
            Assert.Equal(content, batch[0].Stored.ToArray());
        }

        Assert.False(kept.TryCopyTo(0, new byte[1])); // packed whole: its room goes back to the budget
        Assert.NotNull(budget.TryKeep(content));

        // Once released, the bytes come from the file again, checked as any other read.
        await Assert.ThrowsAsync<InvalidInputException>(async () =>
        {
            await foreach (var _ in EncodedBatch.ReadAllAsync(new[] { origin }, rehashAll: false, Compression.Off, CancellationToken.None))
            {
            }
        });
    }

    [Fact]
    public void Only_small_files_are_kept()
    {
        using var budget = new KeptBytesBudget(1 << 30);
        Assert.Null(budget.TryKeep(new byte[KeptBytesBudget.MaxFileBytes + 1]));
        Assert.Null(budget.TryKeep([]));
        Assert.NotNull(budget.TryKeep(new byte[KeptBytesBudget.MaxFileBytes]));
    }

    [Fact]
    public void Kept_files_read_back_and_a_block_is_filled_again_once_its_files_are_released()
    {
        const int blockBytes = 2 << 20;
        using var budget = new KeptBytesBudget(2 * blockBytes);
        var files = Enumerable.Range(0, 64).Select(i => DatasetFiles.Random(i, KeptBytesBudget.MaxFileBytes - i)).ToList();
        var kept = files.Select(f => budget.TryKeep(f)).ToList();
        Assert.All(kept, Assert.NotNull);
        Assert.Null(budget.TryKeep(files[0])); // both blocks full

        for (int i = 0; i < files.Count; i++)
        {
            var copy = new byte[files[i].Length - 10];
            Assert.True(kept[i]!.TryCopyTo(10, copy));
            Assert.Equal(files[i].AsSpan(10).ToArray(), copy);
        }

        // A copy never reaches past the file into its neighbours in the block.
        Assert.Throws<ArgumentOutOfRangeException>(() => kept[0]!.TryCopyTo(1, new byte[files[0].Length]));
        Assert.Throws<ArgumentOutOfRangeException>(() => kept[0]!.TryCopyTo(-1, new byte[1]));

        foreach (var k in kept)
        {
            k!.Release();
            k.Release(); // twice gives back nothing more
        }

        var again = files.Select(f => budget.TryKeep(f)).ToList();
        Assert.All(again, Assert.NotNull);
        var last = new byte[files[^1].Length];
        Assert.True(again[^1]!.TryCopyTo(0, last));
        Assert.Equal(files[^1], last);
    }

    [Fact]
    public void A_block_held_by_one_file_counts_whole_so_memory_stays_within_the_budget()
    {
        using var budget = new KeptBytesBudget(2 * (2 << 20));
        byte[] file = DatasetFiles.Random(3, KeptBytesBudget.MaxFileBytes);
        var kept = Enumerable.Range(0, 64).Select(_ => budget.TryKeep(file)!).ToList();
        foreach (var k in kept.Where((_, i) => i % 32 != 0))
        {
            k.Release(); // one file left in each block
        }

        // Bytes in use are far below the budget, but both blocks it allows are held.
        Assert.Null(budget.TryKeep(file));
        kept[0].Release();
        Assert.NotNull(budget.TryKeep(file)); // the first block went back; a fresh one takes its place
    }

    [Fact]
    public void Disposing_the_budget_frees_what_was_never_released()
    {
        var budget = new KeptBytesBudget(1 << 20);
        byte[] file = DatasetFiles.Random(4, 1_000);
        var kept = budget.TryKeep(file)!;
        budget.Dispose();
        Assert.False(kept.TryCopyTo(0, new byte[file.Length])); // the upload reads the file instead
        kept.Release();
        Assert.Null(budget.TryKeep(file));
    }
}
