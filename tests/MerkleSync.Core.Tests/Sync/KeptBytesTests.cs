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
        var budget = new KeptBytesBudget(8_000);
        var kept = budget.TryKeep(content)!;
        Assert.Null(budget.TryKeep(content)); // no room left for a second file
        var origin = new ChunkOrigin(gone, false, 0, content.Length, XetHashes.ChunkHash(content), Kept: kept);

        await foreach (var batch in EncodedBatch.ReadAllAsync(new[] { origin }, rehashAll: false, Compression.Off, CancellationToken.None))
        {
            Assert.Equal(content, batch[0].Stored.ToArray());
        }

        Assert.Null(kept.Bytes); // packed whole: its room goes back to the budget
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
        var budget = new KeptBytesBudget(1 << 30);
        Assert.Null(budget.TryKeep(new byte[KeptBytesBudget.MaxFileBytes + 1]));
        Assert.Null(budget.TryKeep([]));
        Assert.NotNull(budget.TryKeep(new byte[KeptBytesBudget.MaxFileBytes]));
    }
}
