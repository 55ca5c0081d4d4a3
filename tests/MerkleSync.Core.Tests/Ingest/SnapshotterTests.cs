using MerkleSync.Core.Chunking;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Ingest;

/// <summary>Hashing a scanned file: small files are read whole, larger ones streamed; both must agree with hashing the bytes in memory.</summary>
public class SnapshotterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(9_000)]
    [InlineData(200_000)]
    [InlineData(256 << 10)]
    [InlineData((256 << 10) + 1)]
    [InlineData(3 << 20)]
    public async Task A_file_hashes_to_the_hash_of_its_bytes(int size)
    {
        using var temp = new TempFolder();
        byte[] content = DatasetFiles.Random(size, size);
        DatasetFiles.Write(temp.Path, "f.bin", content);
        var scanned = Assert.Single(DirectoryScanner.Scan(temp.Path));

        var hashed = await Snapshotter.HashFileAsync(scanned, CancellationToken.None);

        AssertSameContent(ContentHasher.Hash(content), hashed);
    }

    [Theory]
    [InlineData(100_000, 150_000)]
    [InlineData(100_000, 40_000)]
    [InlineData(100_000, 0)]
    public async Task A_file_resized_after_the_scan_is_hashed_as_it_is_now(int scannedSize, int newSize)
    {
        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, "f.bin", DatasetFiles.Random(1, scannedSize));
        var scanned = Assert.Single(DirectoryScanner.Scan(temp.Path));
        byte[] now = DatasetFiles.Random(2, newSize);
        DatasetFiles.Write(temp.Path, "f.bin", now);

        var hashed = await Snapshotter.HashFileAsync(scanned, CancellationToken.None);

        AssertSameContent(ContentHasher.Hash(now), hashed);
    }

    [Theory]
    [InlineData("f.bin")]
    [InlineData("link")]
    public async Task A_file_deleted_after_the_scan_is_named_in_a_clear_error(string deleted)
    {
        using var temp = new TempFolder();
        DatasetFiles.Write(temp.Path, "f.bin", DatasetFiles.Random(1, 1000));
        File.CreateSymbolicLink(Path.Combine(temp.Path, "link"), "f.bin");
        var scanned = DirectoryScanner.Scan(temp.Path);
        File.Delete(Path.Combine(temp.Path, deleted));

        var error = await Assert.ThrowsAsync<Errors.InvalidInputException>(() => Snapshotter.HashFilesAsync(scanned, CancellationToken.None));

        Assert.Contains($"'{Path.Combine(temp.Path, deleted)}' was listed but is gone", error.Message, StringComparison.Ordinal);
    }

    private static void AssertSameContent(ChunkedContent expected, ChunkedContent actual)
    {
        Assert.Equal(expected.FileHash, actual.FileHash);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.Chunks, actual.Chunks);
    }
}
