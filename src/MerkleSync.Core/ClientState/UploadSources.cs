using System.Buffers;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// The value of an upload's chunk-list record (format.md section 7): where the raw bytes of its next
/// chunks can be read again. Chunks of one source are grouped under its path and stat, so a chunk
/// costs about 40 bytes instead of the 300 of the JSON list written before (a 4 GiB push wrote
/// 20 MB of it to the state, most of it into RocksDB's write buffer). JSON records from older
/// versions are still read: they start with '[', this format with <see cref="Tag"/>.
/// </summary>
internal static class UploadSources
{
    private const byte Tag = 1;
    private const byte SymlinkFlag = 1;
    private const byte StatFlag = 2;

    public static byte[] Encode(IReadOnlyList<ChunkOrigin> chunks)
    {
        var writer = new ArrayBufferWriter<byte>(16 + (chunks.Count * 40));
        writer.Write([Tag]);
        for (int start = 0; start < chunks.Count;)
        {
            var first = chunks[start];
            int end = start + 1;
            while (end < chunks.Count && SameSource(chunks[end], first))
            {
                end++;
            }

            Varint.WriteString(writer, first.SourcePath);
            writer.Write([(byte)((first.Symlink ? SymlinkFlag : 0) | (first.Stat is null ? 0 : StatFlag))]);
            first.Stat?.WriteTo(writer);

            Varint.Write(writer, (ulong)(end - start));
            for (; start < end; start++)
            {
                Varint.Write(writer, (ulong)chunks[start].Offset);
                Varint.Write(writer, (ulong)chunks[start].Length);
                Varint.WriteHash(writer, chunks[start].Hash);
            }
        }

        return writer.WrittenSpan.ToArray();
    }

    public static List<ChunkOrigin> Decode(ReadOnlySpan<byte> value)
    {
        if (value.Length > 0 && value[0] == (byte)'[')
        {
            return System.Text.Json.JsonSerializer.Deserialize(value, ClientStateJson.Default.ListChunkOrigin)!;
        }

        var reader = new SpanReader(value);
        if (reader.ReadByte() != Tag)
        {
            throw new Errors.CorruptDataException("An upload's chunk list in the client state has an unknown format.");
        }

        var chunks = new List<ChunkOrigin>();
        while (!reader.AtEnd)
        {
            string path = reader.ReadString(64 << 10);
            byte flags = reader.ReadByte();
            FileStat? stat = (flags & StatFlag) == 0 ? null : FileStat.ReadFrom(ref reader);
            int count = reader.ReadLength(reader.Remaining / 34);
            for (int i = 0; i < count; i++)
            {
                long offset = reader.ReadInt64Varint();
                int length = reader.ReadInt32Varint();
                chunks.Add(new ChunkOrigin(path, (flags & SymlinkFlag) != 0, offset, length, reader.ReadHash(), stat));
            }
        }

        return chunks;
    }

    private static bool SameSource(ChunkOrigin a, ChunkOrigin b) => a.SourcePath == b.SourcePath && a.Symlink == b.Symlink && a.Stat == b.Stat;
}
