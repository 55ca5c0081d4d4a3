using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Repository;

/// <summary>Resumable pack uploads at the repository level: verified as they arrive, or read back.</summary>
public class PackUploadTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_pack_uploaded_in_order_is_verified_as_it_arrives_and_not_read_back()
    {
        using var temp = new TempFolder();
        var (pack, chunks) = await WritePackAsync();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));

        var upload = repository.CreateUpload(pack.Length);
        long offset = 0;
        foreach (int piece in new[] { 5, 3000, 100_000, pack.Length })
        {
            int length = (int)Math.Min(piece, pack.Length - offset);
            offset = await repository.AppendUploadAsync(upload.Id, offset, new MemoryStream(pack, (int)offset, length), null, None);
        }

        var (record, readBack) = await repository.FinishUploadAsync(upload.Id, None);

        Assert.False(readBack);
        Assert.Equal(chunks.Count, record.Entries.Length);
        Assert.All(chunks, c => Assert.True(repository.HasChunk(c)));
    }

    [Fact]
    public async Task A_pack_resumed_in_another_process_is_read_back_and_a_corrupt_one_is_refused_either_way()
    {
        using var temp = new TempFolder();
        var (pack, chunks) = await WritePackAsync();
        string repo = temp.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        string id;
        long offset;
        using (var first = await Core.Repository.Repository.OpenAsync(repo, None))
        {
            id = first.CreateUpload(pack.Length).Id;
            offset = await first.AppendUploadAsync(id, 0, new MemoryStream(pack, 0, pack.Length / 2), null, None);
        }

        using var second = await Core.Repository.Repository.OpenAsync(repo, None);
        await second.AppendUploadAsync(id, offset, new MemoryStream(pack, (int)offset, pack.Length - (int)offset), null, None);
        var (_, readBack) = await second.FinishUploadAsync(id, None);
        Assert.True(readBack);
        Assert.All(chunks, c => Assert.True(second.HasChunk(c)));

        // A byte changed in the last chunk: refused whether the server saw every byte or not.
        var (other, otherChunks) = await WritePackAsync(seed: 2);
        other[other.Length - PackFormat.TrailerLength - 4 - (otherChunks.Count * PackFormat.EntryLength) - PackFormat.FrameHeaderLength - 10] ^= 0x20;
        foreach (bool resumed in new[] { false, true })
        {
            var upload = second.CreateUpload(other.Length);
            if (resumed)
            {
                await using (var partial = File.OpenWrite(Path.Combine(repo, "tmp", "uploads", upload.Id + ".partial")))
                {
                    await partial.WriteAsync(other.AsMemory(0, 100), None); // as if a PATCH had reached another process
                }
            }

            long at = resumed ? 100 : 0;
            await second.AppendUploadAsync(upload.Id, at, new MemoryStream(other, (int)at, other.Length - (int)at), null, None);
            var error = await Assert.ThrowsAsync<CorruptDataException>(() => second.FinishUploadAsync(upload.Id, None));
            Assert.Contains("failed verification", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(otherChunks, second.HasChunk);
        }
    }

    [Fact]
    public async Task An_upload_takes_one_request_at_a_time()
    {
        using var temp = new TempFolder();
        var (pack, chunks) = await WritePackAsync();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var upload = repository.CreateUpload(pack.Length);
        var (body, receiving) = await ReceivingAsync(repository, upload.Id, pack.AsMemory(0, 1000));

        // Neither a second PATCH at the same offset nor finishing it may run while bytes arrive.
        await Assert.ThrowsAsync<ConflictException>(() => repository.AppendUploadAsync(upload.Id, 0, new MemoryStream(pack), null, None));
        await Assert.ThrowsAsync<ConflictException>(() => repository.FinishUploadAsync(upload.Id, None));

        await body.Writer.WriteAsync(pack.AsMemory(1000), None);
        await body.Writer.CompleteAsync();
        Assert.Equal(pack.Length, await receiving);
        var (record, readBack) = await repository.FinishUploadAsync(upload.Id, None);
        Assert.False(readBack);
        Assert.Equal(chunks.Count, record.Entries.Length);
    }

    [Fact]
    public async Task Asking_where_an_upload_stands_waits_for_the_request_still_receiving_it()
    {
        using var temp = new TempFolder();
        var (pack, chunks) = await WritePackAsync();
        using var repository = Core.Repository.Repository.Init(temp.Sub("repo"));
        var upload = repository.CreateUpload(pack.Length);
        var (body, receiving) = await ReceivingAsync(repository, upload.Id, pack.AsMemory(0, 1000));

        // A client resuming after a crash asks while the request it left behind still runs: the
        // answer comes once that request is done, so it reflects what that request stored.
        var asking = repository.GetUploadWhenIdleAsync(upload.Id, TimeSpan.FromSeconds(60), None);
        await Task.Delay(200, None);
        Assert.False(asking.IsCompleted);
        await body.Writer.WriteAsync(pack.AsMemory(1000), None);
        await body.Writer.CompleteAsync();
        Assert.Equal(pack.Length, await receiving);
        Assert.Equal(pack.Length, (await asking)!.Offset);

        // Finished meanwhile: the upload is gone only once its chunks are indexed.
        var finishing = repository.FinishUploadAsync(upload.Id, None);
        var afterFinish = await repository.GetUploadWhenIdleAsync(upload.Id, TimeSpan.FromSeconds(60), None);
        await finishing;
        if (afterFinish is null)
        {
            Assert.All(chunks, c => Assert.True(repository.HasChunk(c)));
        }

        // A request that does not end within the patience given: the answer says where it stands now.
        var stuck = repository.CreateUpload(pack.Length);
        var (stuckBody, stuckReceiving) = await ReceivingAsync(repository, stuck.Id, ReadOnlyMemory<byte>.Empty);
        Assert.Equal(0, (await repository.GetUploadWhenIdleAsync(stuck.Id, TimeSpan.FromMilliseconds(100), None))!.Offset);
        await stuckBody.Writer.CompleteAsync();
        await stuckReceiving;
    }

    /// <summary>A PATCH of an upload still running: <paramref name="first"/> has arrived, the rest is for the test to write into <c>Body</c>.</summary>
    private static async Task<(System.IO.Pipelines.Pipe Body, Task<long> Receiving)> ReceivingAsync(Core.Repository.Repository repository, string uploadId, ReadOnlyMemory<byte> first)
    {
        var body = new System.IO.Pipelines.Pipe();
        var receiving = repository.AppendUploadAsync(uploadId, 0, body.Reader.AsStream(), null, None);
        await body.Writer.WriteAsync(first, None);
        return (body, receiving);
    }

    private static async Task<(byte[] Pack, List<Hash> Chunks)> WritePackAsync(int seed = 1)
    {
        using var stream = new MemoryStream();
        var writer = new PackWriter(stream);
        var chunks = new List<Hash>();
        for (int i = 0; i < 12; i++)
        {
            byte[] chunk = i % 3 == 0 ? [.. Enumerable.Repeat((byte)(i + seed), 20_000 + i)] : SplitMix64.Bytes((ulong)(seed * 100 + i), 30_000 + i);
            chunks.Add(XetHashes.ChunkHash(chunk));
            await writer.AddAsync(chunks[^1], chunk, None);
        }

        await writer.FinishAsync(None);
        return (stream.ToArray(), chunks);
    }
}
