using MerkleSync.Core.Backends;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Backends;

/// <summary>
/// Pack files are written and read around the page cache in aligned blocks; whatever the write
/// sizes (copied in or filled in place), flushes, re-opens and truncations, the file must hold
/// exactly the bytes written.
/// </summary>
public class UnbufferedFileTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Appends_flushes_reopens_and_truncations_keep_exactly_the_bytes_written(int seed)
    {
        using var folder = new TempFolder();
        string path = folder.Sub("pack");
        var random = new Random(seed);
        byte[] content = DatasetFiles.Random(seed, 7 * UnbufferedFile.BlockSize + 12345);
        long length = 0;
        var file = await UnbufferedFile.OpenAppendAsync(path, 0, create: true, None);
        try
        {
            for (int step = 0; step < 60 && length < content.Length; step++)
            {
                int count = (int)Math.Min(content.Length - length, random.Next(4) switch
                {
                    0 => random.Next(1, 100),
                    1 => random.Next(1, UnbufferedFile.Alignment * 3),
                    _ => random.Next(1, UnbufferedFile.BlockSize + 5000),
                });
                var data = content.AsMemory((int)length, count);
                if (random.Next(2) == 0)
                {
                    await file.WriteAsync(data, None);
                }
                else
                {
                    // As a request body is read into the block: short reads of any size.
                    while (!data.IsEmpty)
                    {
                        int read = Math.Min(Math.Min(file.FreeSpace.Length, data.Length), random.Next(1, 70_000));
                        data[..read].CopyTo(file.FreeSpace);
                        data = data[read..];
                        await file.AdvanceAsync(read, None);
                    }
                }

                length += count;
                switch (random.Next(5))
                {
                    case 0:
                        await file.FlushAsync(None);
                        Assert.Equal(length, new FileInfo(path).Length);
                        break;
                    case 1:
                        // Reopen where the file ends, as a resumed upload does.
                        await file.SyncAsync(None);
                        await file.DisposeAsync();
                        file = await UnbufferedFile.OpenAppendAsync(path, length, create: false, None);
                        break;
                    case 2:
                        length -= random.Next((int)Math.Min(length, UnbufferedFile.Alignment * 2) + 1);
                        await file.TruncateAsync(length, None);
                        break;
                }

                Assert.Equal(length, file.Length);
            }

            await file.SyncAsync(None);
        }
        finally
        {
            await file.DisposeAsync();
        }

        Assert.Equal(length, new FileInfo(path).Length);
        await using var reader = UnbufferedFile.OpenRead(path);
        var back = new MemoryStream();
        await reader.CopyToAsync(back, 100_000, None);
        Assert.Equal(content.AsSpan(0, (int)length).ToArray(), back.ToArray());
    }

    [Fact]
    public async Task A_range_reads_exactly_its_bytes_wherever_it_starts_and_ends()
    {
        using var folder = new TempFolder();
        string path = folder.Sub("pack");
        byte[] content = DatasetFiles.Random(5, 3 * UnbufferedFile.BlockSize + 777);
        await File.WriteAllBytesAsync(path, content);
        var random = new Random(5);
        long[] edges = [0, 1, UnbufferedFile.Alignment - 1, UnbufferedFile.Alignment, UnbufferedFile.BlockSize - 3, UnbufferedFile.BlockSize, 2L * UnbufferedFile.BlockSize + 5];
        for (int i = 0; i < 40; i++)
        {
            long offset = i < edges.Length ? edges[i] : random.NextInt64(content.Length);
            long length = i % 3 == 0 ? content.Length - offset : random.NextInt64(Math.Min(content.Length - offset, UnbufferedFile.BlockSize * 2L) + 1);
            await using var reader = UnbufferedFile.OpenRead(path, offset, length);
            var back = new MemoryStream();
            await reader.CopyToAsync(back, 65_536, None);
            Assert.Equal(content.AsSpan((int)offset, (int)length).ToArray(), back.ToArray());
        }
    }

    [Fact]
    public async Task Opening_past_the_end_of_a_file_is_an_error()
    {
        using var folder = new TempFolder();
        string path = folder.Sub("pack");
        await File.WriteAllBytesAsync(path, new byte[100]);
        await Assert.ThrowsAsync<IOException>(async () => await UnbufferedFile.OpenAppendAsync(path, 200, create: false, None));
    }
}
