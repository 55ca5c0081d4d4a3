using System.Buffers;
using System.Text.Json.Nodes;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.Sync.Protocol;

/// <summary>
/// Bodies of the sync protocol (docs/format.md, "Sync protocol"). Bulk data is binary; small
/// metadata is JSON. Everything read here comes from the network and is bounds-checked first.
/// </summary>
public static class WireFormat
{
    public const string BinaryType = "application/octet-stream";

    /// <summary>Most hashes in one negotiation request (3.2 MB).</summary>
    public const int MaxHashesPerRequest = 100_000;

    /// <summary>Most version records one history request returns; longer histories are read in pages.</summary>
    public const int MaxHistoryPerRequest = 10_000;

    /// <summary>Most file hashes in one request for reconstructions.</summary>
    public const int MaxPlansPerRequest = 10_000;

    /// <summary>
    /// A reconstructions answer stops adding plans once it is this long (it always has at least
    /// one): the client asks again for the rest, and the server never builds more than this.
    /// </summary>
    public const int PlansResponseBudget = 4 << 20;

    /// <summary>Largest publish body: tree nodes and chunk lists of one version.</summary>
    public const int MaxPublishBytes = 512 << 20;

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

    public static ReadOnlyMemory<byte> EncodePublish(PublishRequest request)
    {
        // Sized up front: the body of a large push is megabytes, and growing it by doubling left
        // several times that as large-object garbage at the end of the push, when memory peaks.
        const int HashAndVarint = Hash.Size + 10;
        long bound = 1024 + (3 * Hash.Size) + (4L * (request.Branch.Length + request.Author.Length + request.Message.Length))
            + request.Nodes.Sum(n => (long)HashAndVarint + n.Value.Length)
            + request.Files.Sum(f => (long)HashAndVarint + 10 + ((long)HashAndVarint * f.Chunks.Length));
        var writer = new ArrayBufferWriter<byte>((int)Math.Min(bound, MaxPublishBytes));
        writer.Write("MSPUB1"u8);
        Varint.WriteString(writer, request.Branch);
        writer.Write([request.ExpectedHead is null ? (byte)0 : (byte)1]);
        Varint.WriteHash(writer, request.ExpectedHead ?? Hash.Zero);
        Varint.WriteHash(writer, request.Root);
        Varint.WriteString(writer, request.Author);
        Varint.WriteString(writer, request.Message);
        Varint.Write(writer, (ulong)request.Nodes.Count);
        foreach (var (id, bytes) in request.Nodes)
        {
            Varint.WriteHash(writer, id);
            Varint.Write(writer, (ulong)bytes.Length);
            writer.Write(bytes);
        }

        Varint.Write(writer, (ulong)request.Files.Count);
        foreach (var file in request.Files)
        {
            Varint.WriteHash(writer, file.FileHash);
            Varint.Write(writer, (ulong)file.Chunks.Length);
            foreach (var chunk in file.Chunks)
            {
                Varint.WriteHash(writer, chunk.Hash);
                Varint.Write(writer, chunk.Length);
            }
        }

        return writer.WrittenMemory;
    }

    public static PublishRequest DecodePublish(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body);
        if (!reader.ReadBytes(6).SequenceEqual("MSPUB1"u8))
        {
            throw new CorruptDataException("Publish body does not start with MSPUB1.");
        }

        string branch = reader.ReadString(256);
        bool hasHead = reader.ReadByte() == 1;
        var head = reader.ReadHash();
        var root = reader.ReadHash();
        string author = reader.ReadString(1024);
        string message = reader.ReadString(VersionRecord.MaxTextBytes);
        int nodeCount = reader.ReadLength(body.Length / 33);
        var nodes = new List<KeyValuePair<Hash, byte[]>>(nodeCount);
        for (int i = 0; i < nodeCount; i++)
        {
            var id = reader.ReadHash();
            nodes.Add(new(id, reader.ReadBytes(reader.ReadLength(1 << 20)).ToArray()));
        }

        int fileCount = reader.ReadLength(body.Length / 33);
        var files = new List<NewFile>(fileCount);
        for (int i = 0; i < fileCount; i++)
        {
            var fileHash = reader.ReadHash();
            var chunks = new ChunkRef[reader.ReadLength(reader.Remaining / 33)];
            for (int c = 0; c < chunks.Length; c++)
            {
                chunks[c] = new ChunkRef(reader.ReadHash(), reader.ReadVarint());
            }

            files.Add(new NewFile(fileHash, chunks));
        }

        if (!reader.AtEnd)
        {
            throw new CorruptDataException("Publish body has trailing bytes.");
        }

        return new PublishRequest(branch, hasHead ? head : null, root, nodes, files, author, message);
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
        string id = node?["record"]?.GetValue<string>() ?? throw new CorruptDataException("Version JSON lacks 'record'.");
        byte[] bytes = Convert.FromBase64String(node["record_bytes"]?.GetValue<string>() ?? throw new CorruptDataException("Version JSON lacks 'record_bytes'."));
        var record = VersionRecord.Decode(bytes);
        var claimed = Hash.Parse(id);
        return record.Id == claimed ? new VersionRef(claimed, record) : throw new CorruptDataException($"Version record {id} does not hash to its id.");
    }
}
