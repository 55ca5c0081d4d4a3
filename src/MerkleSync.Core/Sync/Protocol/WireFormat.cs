using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using MerkleSync.Core.Collections;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Serialization;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Sync.Protocol;

/// <summary>
/// Bodies of the sync protocol (docs/format.md, "Sync protocol"). Bulk data is binary; small
/// metadata is JSON. Everything read here comes from the network and is bounds-checked first.
/// </summary>
public static class WireFormat
{
    public const string BinaryType = "application/octet-stream";

    /// <summary>
    /// Every answer of a server carries this header with <see cref="ProtocolVersion"/>: an answer
    /// without it came from something else at that address (another service, a proxy's own page).
    /// </summary>
    public const string ProtocolHeader = "MerkleSync-Protocol";

    public const string ProtocolVersion = "1";

    /// <summary>Most hashes in one negotiation request (3.2 MB).</summary>
    public const int MaxHashesPerRequest = 100_000;

    /// <summary>Most version records one history request returns; longer histories are read in pages.</summary>
    public const int MaxHistoryPerRequest = 10_000;

    /// <summary>Most file hashes in one request for reconstructions.</summary>
    public const int MaxPlansPerRequest = 10_000;

    /// <summary>
    /// A reconstructions or node-lookup answer stops adding items once it is this long (it always
    /// has at least one): the client asks again for the rest, and the server never builds more than this.
    /// </summary>
    public const int ResponseBudget = 4 << 20;

    /// <summary>
    /// The client starts another request once a file-records or tree-nodes body would pass this:
    /// the server handles a push in parts of bounded size, however large the push.
    /// </summary>
    public const int StoreBatchBytes = 8 << 20;

    /// <summary>
    /// Largest file-records body. A file's chunk list is never split, so it bounds the largest file:
    /// about 13 million chunks, some 850 GB at the 64 KiB average chunk.
    /// </summary>
    public const int MaxFilesBytes = 512 << 20;

    /// <summary>Largest tree-nodes body, and largest tree node in it.</summary>
    public const int MaxNodesBytes = 16 << 20;

    public const int MaxNodeBytes = 1 << 20;

    /// <summary>Largest publish body (names and the message; files and nodes travel before it).</summary>
    public const int MaxPublishBytes = 128 << 10;

    private const int HashAndVarint = Hash.Size + Varint.MaxLength;

    public static byte[] EncodeHashes(IReadOnlyList<Hash> hashes)
    {
        byte[] body = new byte[hashes.Count * Hash.Size];
        for (int i = 0; i < hashes.Count; i++)
        {
            hashes[i].WriteTo(body.AsSpan(i * Hash.Size));
        }

        return body;
    }

    public static Hash[] DecodeHashes(ReadOnlySpan<byte> body)
    {
        if (body.Length % Hash.Size != 0 || body.Length / Hash.Size > MaxHashesPerRequest)
        {
            throw new InvalidInputException($"A hash list must be a multiple of 32 bytes and at most {MaxHashesPerRequest} hashes.");
        }

        var hashes = new Hash[body.Length / Hash.Size];
        for (int i = 0; i < hashes.Length; i++)
        {
            hashes[i] = Hash.FromBytes(body.Slice(i * Hash.Size, Hash.Size));
        }

        return hashes;
    }

    /// <summary>One bit per hash, least significant bit first: 1 = the server lacks it.</summary>
    public static byte[] EncodeMissing(bool[] have)
    {
        byte[] bitmap = new byte[(have.Length + 7) / 8];
        for (int i = 0; i < have.Length; i++)
        {
            if (!have[i])
            {
                bitmap[i / 8] |= (byte)(1 << (i % 8));
            }
        }

        return bitmap;
    }

    public static bool[] DecodeHave(ReadOnlySpan<byte> bitmap, int count)
    {
        if (bitmap.Length != (count + 7) / 8)
        {
            throw new CorruptDataException($"Server answered {bitmap.Length} bitmap bytes for {count} hashes.");
        }

        var have = new bool[count];
        for (int i = 0; i < count; i++)
        {
            have[i] = (bitmap[i / 8] & (1 << (i % 8))) == 0;
        }

        return have;
    }

    /// <summary>
    /// Consecutive runs of <paramref name="items"/> whose encoded sizes (at most
    /// <paramref name="bound"/> each) add up to at most <see cref="StoreBatchBytes"/>; an item
    /// larger than that goes alone.
    /// </summary>
    public static IEnumerable<IReadOnlyList<T>> Batches<T>(IReadOnlyList<T> items, Func<T, long> bound) =>
        Runs.Bounded(items, bound, StoreBatchBytes).Select(run => (IReadOnlyList<T>)items.Take(run).ToList());

    /// <summary>At least the bytes <paramref name="file"/> takes in a file-records body.</summary>
    public static long FileBound(NewFile file) => HashAndVarint + ((long)HashAndVarint * file.Chunks.Length);

    public static long NodeBound(KeyValuePair<Hash, byte[]> node) => HashAndVarint + node.Value.Length;

    public static ReadOnlyMemory<byte> EncodeFiles(IReadOnlyList<NewFile> files)
    {
        var writer = new ArrayBufferWriter<byte>((int)Math.Min(16 + files.Sum(FileBound), MaxFilesBytes));
        writer.Write("MSFIL1"u8);
        Varint.Write(writer, (ulong)files.Count);
        foreach (var file in files)
        {
            Varint.WriteHash(writer, file.FileHash);
            Varint.WriteChunkList(writer, file.Chunks);
        }

        return writer.WrittenMemory;
    }

    public static List<NewFile> DecodeFiles(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body);
        ExpectMagic(ref reader, "MSFIL1"u8, "File records");
        var files = new List<NewFile>(reader.ReadLength(body.Length / 33));
        for (int i = 0; i < files.Capacity; i++)
        {
            var fileHash = reader.ReadHash();
            files.Add(new NewFile(fileHash, reader.ReadChunkList()));
        }

        ExpectEnd(reader, "File records");
        return files;
    }

    public static ReadOnlyMemory<byte> EncodeNodes(IReadOnlyList<KeyValuePair<Hash, byte[]>> nodes)
    {
        var writer = new ArrayBufferWriter<byte>((int)Math.Min(16 + nodes.Sum(NodeBound), MaxNodesBytes));
        writer.Write("MSNOD1"u8);
        Varint.Write(writer, (ulong)nodes.Count);
        foreach (var (id, bytes) in nodes)
        {
            Varint.WriteHash(writer, id);
            Varint.Write(writer, (ulong)bytes.Length);
            writer.Write(bytes);
        }

        return writer.WrittenMemory;
    }

    public static List<KeyValuePair<Hash, byte[]>> DecodeNodes(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body);
        ExpectMagic(ref reader, "MSNOD1"u8, "Tree nodes");
        var nodes = new List<KeyValuePair<Hash, byte[]>>(reader.ReadLength(body.Length / 33));
        for (int i = 0; i < nodes.Capacity; i++)
        {
            var id = reader.ReadHash();
            nodes.Add(new(id, reader.ReadBytes(reader.ReadLength(MaxNodeBytes)).ToArray()));
        }

        ExpectEnd(reader, "Tree nodes");
        return nodes;
    }

    /// <summary>
    /// Reads a node-lookup answer to a request for <paramref name="asked"/>: tree nodes for a
    /// non-empty prefix of it, in order, each hashing to the id asked.
    /// </summary>
    public static List<KeyValuePair<Hash, byte[]>> DecodeNodeLookup(ReadOnlySpan<byte> body, IReadOnlyList<Hash> asked)
    {
        var nodes = DecodeNodes(body);
        if (nodes.Count == 0 || nodes.Count > asked.Count)
        {
            throw new CorruptDataException($"The server answered {nodes.Count} tree nodes to a lookup of {asked.Count}.");
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Key != asked[i] || TreeFormat.NodeId(nodes[i].Value) != asked[i])
            {
                throw new CorruptDataException($"Asked for tree node {asked[i]}, got bytes that are not it.");
            }
        }

        return nodes;
    }

    public static byte[] EncodePublish(PublishRequest request)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        writer.Write("MSPUB2"u8);
        Varint.WriteString(writer, request.Branch);
        writer.Write([request.ExpectedHead is null ? (byte)0 : (byte)1]);
        Varint.WriteHash(writer, request.ExpectedHead ?? Hash.Zero);
        Varint.WriteHash(writer, request.Root);
        Varint.WriteString(writer, request.Author);
        Varint.WriteString(writer, request.Message);
        return writer.WrittenSpan.ToArray();
    }

    public static PublishRequest DecodePublish(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body);
        ExpectMagic(ref reader, "MSPUB2"u8, "Publish");
        string branch = reader.ReadString(256);
        bool hasHead = reader.ReadByte() == 1;
        var head = reader.ReadHash();
        var root = reader.ReadHash();
        string author = reader.ReadString(1024);
        string message = reader.ReadString(VersionRecord.MaxTextBytes);
        ExpectEnd(reader, "Publish");
        return new PublishRequest(branch, hasHead ? head : null, root, author, message);
    }

    private static void ExpectMagic(ref SpanReader reader, ReadOnlySpan<byte> magic, string what)
    {
        if (reader.Remaining < magic.Length || !reader.ReadBytes(magic.Length).SequenceEqual(magic))
        {
            throw new CorruptDataException($"{what} body does not start with {System.Text.Encoding.ASCII.GetString(magic)}.");
        }
    }

    private static void ExpectEnd(SpanReader reader, string what)
    {
        if (!reader.AtEnd)
        {
            throw new CorruptDataException($"{what} body has trailing bytes.");
        }
    }

    public static byte[] EncodeReconstruction(FileReconstruction plan)
    {
        var writer = new ArrayBufferWriter<byte>(64 + (plan.Segments.Sum(s => s.Run.Length) * PackFormat.EntryLength));
        Varint.WriteHash(writer, plan.FileHash);
        Varint.Write(writer, (ulong)plan.Length);
        Varint.Write(writer, (ulong)plan.Segments.Count);
        foreach (var (packId, run) in plan.Segments)
        {
            Varint.WriteHash(writer, packId);
            Varint.Write(writer, (ulong)run.Length);
            foreach (var entry in run)
            {
                PackFormat.WriteEntry(writer.GetSpan(PackFormat.EntryLength), entry);
                writer.Advance(PackFormat.EntryLength);
            }
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>One plan of a reconstructions answer: its length, then the reconstruction.</summary>
    public static void AppendReconstruction(ArrayBufferWriter<byte> answer, FileReconstruction plan)
    {
        byte[] encoded = EncodeReconstruction(plan);
        Varint.Write(answer, (ulong)encoded.Length);
        answer.Write(encoded);
    }

    /// <summary>
    /// Reads a reconstructions answer to a request for <paramref name="asked"/>: one or more plans,
    /// each for the next hash asked, in order.
    /// </summary>
    public static List<FileReconstruction> DecodeReconstructions(ReadOnlySpan<byte> body, IReadOnlyList<Hash> asked)
    {
        var reader = new SpanReader(body);
        var plans = new List<FileReconstruction>();
        while (!reader.AtEnd)
        {
            if (plans.Count == asked.Count)
            {
                throw new CorruptDataException($"The server answered more than the {asked.Count} reconstructions asked for.");
            }

            var plan = DecodeReconstruction(reader.ReadBytes(reader.ReadLength(reader.Remaining)));
            plans.Add(plan.FileHash == asked[plans.Count] ? plan : throw new CorruptDataException($"Asked for file {asked[plans.Count]}, got {plan.FileHash}."));
        }

        return plans.Count > 0 ? plans : throw new CorruptDataException("The server answered no reconstruction.");
    }

    public static FileReconstruction DecodeReconstruction(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body);
        var fileHash = reader.ReadHash();
        long length = reader.ReadInt64Varint();
        int count = reader.ReadLength(body.Length / 33);
        var segments = new List<(Hash, PackEntry[])>(count);
        for (int s = 0; s < count; s++)
        {
            var packId = reader.ReadHash();
            var run = new PackEntry[reader.ReadLength(reader.Remaining / PackFormat.EntryLength)];
            for (int i = 0; i < run.Length; i++)
            {
                run[i] = PackFormat.ReadEntry(reader.ReadBytes(PackFormat.EntryLength));
                bool contiguous = i == 0 || run[i].Offset == run[i - 1].Offset + run[i - 1].StoredLength + PackFormat.FrameHeaderLength;
                if (!contiguous || !PackFormat.IsPlausible(run[i].Codec, run[i].StoredLength, run[i].RawLength) || run[i].Offset < PackFormat.FirstChunkOffset)
                {
                    throw new CorruptDataException($"Reconstruction of {fileHash} has an inconsistent entry in pack {packId}.");
                }
            }

            segments.Add((packId, run));
        }

        return reader.AtEnd ? new FileReconstruction(fileHash, length, segments) : throw new CorruptDataException("Reconstruction has trailing bytes.");
    }

    /// <summary>A version as JSON, with the record's bytes so the client can check the id itself.</summary>
    public static JsonObject VersionJson(VersionRef version) => new()
    {
        ["record"] = version.Id.ToString(),
        ["version"] = version.Record.Root.ToString(),
        ["record_bytes"] = Convert.ToBase64String(version.Record.Encode()),
    };

    public static VersionRef ParseVersion(JsonNode? node)
    {
        var claimed = JsonHash(node, "record");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(JsonString(node, "record_bytes"));
        }
        catch (FormatException)
        {
            throw new CorruptDataException("'record_bytes' in the server's version JSON is not base64.");
        }

        var record = VersionRecord.Decode(bytes);
        return record.Id == claimed ? new VersionRef(claimed, record) : throw new CorruptDataException($"Version record {claimed} does not hash to its id.");
    }

    /// <summary>A pack repair's report as JSON (<c>POST /packs/{id}/repair</c>).</summary>
    public static JsonObject RepairJson(PackRepairReport report) => new()
    {
        ["pack"] = report.PackId.ToString(),
        ["intact"] = report.Intact,
        ["new_pack"] = report.NewPack?.ToString(),
        ["chunks_kept"] = report.ChunksKept,
        ["chunks_lost"] = report.ChunksLost,
        ["files_lost"] = new JsonArray([.. report.FilesLost.Select(f => (JsonNode)f.ToString())]),
    };

    public static PackRepairReport ParseRepair(JsonNode? node)
    {
        var json = node as JsonObject ?? throw new CorruptDataException("The server's repair report is not a JSON object.");
        return new PackRepairReport(
            JsonHash(json, "pack"),
            JsonValueOf<bool>(json, "intact"),
            json["new_pack"] is null ? null : JsonHash(json, "new_pack"),
            JsonValueOf<int>(json, "chunks_kept"),
            JsonValueOf<int>(json, "chunks_lost"),
            [.. JsonList(json["files_lost"]).Select(f => Hash.TryParse(f is JsonValue v && v.TryGetValue(out string? text) ? text : null, out var hash)
                ? hash : throw new CorruptDataException("'files_lost' in the server's repair report holds something other than file hashes."))]);
    }

    /// <summary>
    /// A forget's report as JSON (<c>POST /forget</c>): the versions forgotten, newest first, how
    /// many are kept, the kept versions (newest first, each with its <c>reasons</c>), and the prune's gc report or null.
    /// </summary>
    public static JsonObject ForgetJson(ForgetReport report) => new()
    {
        ["forgotten"] = new JsonArray([.. report.Forgotten.Select(v => (JsonNode)VersionJson(new VersionRef(v.Id, v.Record)))]),
        ["kept"] = report.Kept,
        ["kept_versions"] = new JsonArray([.. report.KeptVersions.Select(v =>
        {
            var json = VersionJson(new VersionRef(v.Id, v.Record));
            json["reasons"] = new JsonArray([.. v.Reasons.Select(r => (JsonNode)r)]);
            return (JsonNode)json;
        })]),
        ["gc"] = report.Gc is null ? null : GcJson(report.Gc),
    };

    public static ForgetReport ParseForget(JsonNode? node)
    {
        var json = node as JsonObject ?? throw new CorruptDataException("The server's forget report is not a JSON object.");
        var kept = JsonList(json["kept_versions"]).Select(k =>
        {
            var version = ParseVersion(k);
            var reasons = JsonList(k?["reasons"]).Select(r => r is JsonValue v && v.TryGetValue(out string? text) ? text
                : throw new CorruptDataException("'reasons' in the server's forget report holds something other than text.")).ToList();
            return new KeptVersion(version.Id, version.Record, reasons);
        }).ToList();
        return new ForgetReport([.. JsonList(json["forgotten"]).Select(ParseVersion).Select(v => (v.Id, v.Record))], kept,
            json["gc"] is null ? null : ParseGc(json["gc"]));
    }

    /// <summary>A gc's report as JSON (<c>POST /gc</c>, and a pruning forget's): its fields in camel case.</summary>
    public static JsonNode GcJson(GcReport report) => JsonSerializer.SerializeToNode(report, JsonSerializerOptions.Web)!;

    public static GcReport ParseGc(JsonNode? node)
    {
        try
        {
            return node.Deserialize<GcReport>(JsonSerializerOptions.Web) ?? throw new CorruptDataException("The server sent no gc report.");
        }
        catch (JsonException e)
        {
            throw new CorruptDataException($"The server's gc report is not one: {e.Message}");
        }
    }

    private static T JsonValueOf<T>(JsonObject json, string name) =>
        json[name] is JsonValue value && value.TryGetValue(out T? result) && result is not null
            ? result
            : throw new CorruptDataException($"The server's JSON lacks the {typeof(T).Name} '{name}'.");

    // Readers of the server's JSON: an answer of another shape is a corrupt answer, never a crash.
    public static string JsonString(JsonNode? node, string name) =>
        node is JsonObject json && json[name] is JsonValue value && value.TryGetValue(out string? text)
            ? text
            : throw new CorruptDataException($"The server's JSON lacks the string '{name}'.");

    public static Hash JsonHash(JsonNode? node, string name) =>
        Hash.TryParse(JsonString(node, name), out var hash) ? hash : throw new CorruptDataException($"'{name}' in the server's JSON is not a hash.");

    public static long JsonLong(JsonNode? node, string name) =>
        node is JsonObject json ? JsonValueOf<long>(json, name) : throw new CorruptDataException($"The server's JSON lacks the Int64 '{name}'.");

    public static JsonArray JsonList(JsonNode? node) => node as JsonArray ?? throw new CorruptDataException("The server's JSON is not the list expected.");
}
