using MerkleSync.Core.ClientState;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.ClientState;

/// <summary>Upload checkpoints in a real client-state RocksDB: what a killed push leaves for the next run.</summary>
public class UploadCheckpointTests
{
    private static ChunkOrigin Origin(int i) =>
        new($"/data/file-{i}", false, i * 1000L, 1000, XetHashes.ChunkHash([(byte)i]), new FileStat(1000, i, i, (ulong)i));

    [Fact]
    public void Chunks_appended_piece_by_piece_come_back_in_order_per_upload_and_survive_a_reopen()
    {
        using var temp = new TempFolder();
        using (var state = ClientStateStore.Open(temp.Path))
        {
            state.Begin("b-upload", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/2", Compression.Off);
            state.Begin("a-upload", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/1", Compression.Lz4);
            for (int piece = 0; piece < 12; piece++)
            {
                state.AppendChunks("a-upload", [Origin(2 * piece), Origin((2 * piece) + 1)]);
            }

            state.AppendChunks("b-upload", [Origin(100)]);
        }

        using (var state = ClientStateStore.Open(temp.Path))
        {
            var uploads = state.List().ToDictionary(u => u.Name);
            Assert.Equal(Enumerable.Range(0, 24).Select(Origin), uploads["a-upload"].Chunks);
            Assert.Equal([Origin(100)], uploads["b-upload"].Chunks);
            Assert.Equal("http://127.0.0.1:1/v1/datasets/ds/uploads/2", uploads["b-upload"].UploadUrl);
            Assert.Equal(Compression.Off, uploads["b-upload"].Compression); // a resumed pack is rebuilt as it was begun
            Assert.Equal(Compression.Lz4, uploads["a-upload"].Compression);

            state.Remove("a-upload");
            Assert.Equal(["b-upload"], state.List().Select(u => u.Name));
        }
    }

    [Fact]
    public void Checkpoints_made_before_the_state_opened_reach_it_when_attached_and_later_ones_go_straight_through()
    {
        using var temp = new TempFolder();
        var deferred = new DeferredCheckpoints();
        deferred.Begin("kept", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/1", Compression.Off);
        deferred.AppendChunks("kept", [Origin(1), Origin(2)]);
        deferred.Begin("done", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/2", Compression.Lz4);
        deferred.AppendChunks("done", [Origin(3)]);
        deferred.Remove("done");
        deferred.Begin("empty", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/3", Compression.Lz4);
        Assert.Empty(deferred.List());

        using (var state = ClientStateStore.Open(temp.Path))
        {
            deferred.Attach(state);
            deferred.AppendChunks("kept", [Origin(4)]);
            deferred.Begin("later", "http://127.0.0.1:1/ds", "http://127.0.0.1:1/v1/datasets/ds/uploads/4", Compression.Lz4);
            Assert.Equal(["empty", "kept", "later"], deferred.List().Select(u => u.Name).Order());
        }

        using (var state = ClientStateStore.Open(temp.Path))
        {
            var uploads = state.List().ToDictionary(u => u.Name);
            Assert.Equal(["empty", "kept", "later"], uploads.Keys.Order());
            Assert.Equal([Origin(1), Origin(2), Origin(4)], uploads["kept"].Chunks);
            Assert.Empty(uploads["empty"].Chunks);
            Assert.Equal("http://127.0.0.1:1/v1/datasets/ds/uploads/1", uploads["kept"].UploadUrl);
            Assert.Equal(Compression.Off, uploads["kept"].Compression);
        }
    }

    [Fact]
    public void A_chunk_list_keeps_every_source_field_and_costs_about_forty_bytes_a_chunk()
    {
        var old = new FileStat(5000, -315_619_200_000_000_000, -1, ulong.MaxValue); // before 1970
        List<ChunkOrigin> chunks =
        [
            .. Enumerable.Range(0, 100).Select(i => new ChunkOrigin("/data/big.bin", false, i * 65_536L, 65_536, XetHashes.ChunkHash([(byte)i]), new FileStat(100 * 65_536, 1, 7, 9))),
            new("/data/link", true, 0, 12, XetHashes.ChunkHash([1, 2]), old),
            new("/data/ünknown stat", false, 1L << 40, 8, XetHashes.ChunkHash([3]), null),
            new("/data/ünknown stat", false, (1L << 40) + 8, 8, XetHashes.ChunkHash([4]), null),
            new("/data/big.bin", false, 0, 10, XetHashes.ChunkHash([5]), new FileStat(10, 1, 7, 9)), // the same path, another stat
        ];

        byte[] encoded = UploadSources.Encode(chunks);

        Assert.Equal(chunks, UploadSources.Decode(encoded));
        Assert.InRange(UploadSources.Encode(chunks[..100]).Length, 100 * 36, 100 * 42);
        Assert.Empty(UploadSources.Decode(UploadSources.Encode([])));
        Assert.Throws<Errors.CorruptDataException>(() => UploadSources.Decode(encoded.AsSpan(0, encoded.Length - 1)));
    }

    [Fact]
    public void A_chunk_list_written_as_json_by_an_earlier_version_still_reads()
    {
        var hash = XetHashes.ChunkHash([7]);
        string json = $$$"""[{"SourcePath":"/data/a.bin","Symlink":false,"Offset":65536,"Length":1000,"Hash":"{{{hash}}}","Stat":{"Size":70000,"ModifiedNs":5,"ChangedNs":6,"Inode":8}},{"SourcePath":"/data/l","Symlink":true,"Offset":0,"Length":3,"Hash":"{{{hash}}}"}]""";

        Assert.Equal(
            [new ChunkOrigin("/data/a.bin", false, 65536, 1000, hash, new FileStat(70000, 5, 6, 8)), new ChunkOrigin("/data/l", true, 0, 3, hash)],
            UploadSources.Decode(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void An_upload_head_written_before_the_compression_option_existed_or_while_zstd_was_auto_reads_as_zstd()
    {
        static ClientStateStore.UploadHead Read(string json) => System.Text.Json.JsonSerializer.Deserialize(json, ClientStateJson.Default.UploadHead)!;
        static string Write(ClientStateStore.UploadHead head) => System.Text.Json.JsonSerializer.Serialize(head, ClientStateJson.Default.UploadHead);

        var head = Read("""{"RemoteUrl":"http://127.0.0.1:1/ds","UploadUrl":"http://127.0.0.1:1/v1/datasets/ds/uploads/1"}""");
        Assert.Equal(Compression.Zstd, head.Compression);
        Assert.Equal(Compression.Zstd, Read("""{"RemoteUrl":"u","UploadUrl":"v","Compression":"Auto"}""").Compression);
        Assert.Contains("\"Compression\":\"Auto\"", Write(head), StringComparison.Ordinal);
        Assert.Contains("\"Compression\":\"Off\"", Write(head with { Compression = Compression.Off }), StringComparison.Ordinal);
        Assert.Equal(Compression.Lz4, Read(Write(head with { Compression = Compression.Lz4 })).Compression);
    }
}
