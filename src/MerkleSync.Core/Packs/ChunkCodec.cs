using System.Text.Json.Serialization;
using K4os.Compression.LZ4;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using ZstdSharp;

namespace MerkleSync.Core.Packs;

/// <summary>How a chunk's bytes are stored in a pack. Persisted as one byte: values never change meaning.</summary>
public enum Codec : byte
{
    None = 0,
    Zstd = 1,
    Lz4 = 2,
}

/// <summary>
/// How a push compresses the chunks it packs, like restic's <c>--compression</c> and borg's
/// <c>-C</c>: each chunk is stored compressed when that makes it smaller (<see cref="ChunkCodec"/>),
/// else raw. Packs of any kind read the same way.
/// </summary>
public enum Compression
{
    /// <summary>
    /// zstd level 1: the smallest packs, for about twice LZ4's CPU. Persisted as "Auto", its name
    /// while it was the default, so that a pack begun then resumes with the codec it began with.
    /// </summary>
    [JsonStringEnumMemberName("Auto")]
    Zstd = 0,

    /// <summary>Every chunk raw: on a fast link (or loopback) saves what compressing costs.</summary>
    Off = 1,

    /// <summary>LZ4 (the default, the codec Xet's xorbs use): a third of zstd's CPU to decode, half to encode.</summary>
    Lz4 = 2,
}

/// <summary>
/// Chooses and applies a chunk's codec: the push's choice (<see cref="Compression"/>) when it makes
/// the chunk smaller, else raw. On the benchmark's 161 MB of text, LZ4 stores 0.52 of the raw size
/// at 310-420 MB/s and decodes at ~2 GB/s; zstd level 1 stores 0.34 at ~200 MB/s and decodes at
/// ~650 MB/s (level 3 stored only 0.2% less for ~0.4 CPU-seconds more per GiB). The byte entropy
/// of the first 8 KiB sorts most chunks before any codec runs: random-looking bytes
/// (already-compressed formats, encrypted or random data) stay raw.
/// </summary>
public static class ChunkCodec
{
    /// <summary>What a push uses unless told otherwise.</summary>
    public const Compression DefaultCompression = Compression.Lz4;

    private const int ZstdLevel = 1;
    private const int ProbeBytes = 8 * 1024;

    [ThreadStatic]
    private static Compressor? t_compressor;

    [ThreadStatic]
    private static Decompressor? t_decompressor;

    [ThreadStatic]
    private static byte[]? t_scratch;

    /// <summary>
    /// Encodes <paramref name="raw"/> into <paramref name="stored"/> (at least as long as the raw
    /// chunk) and returns the codec and stored length; <see cref="Compression.Off"/> copies it raw.
    /// </summary>
    public static (Codec Codec, int Length) Encode(ReadOnlySpan<byte> raw, Span<byte> stored, Compression compression = DefaultCompression)
    {
        if (Compress(raw, compression) is (not Codec.None, var compressed) result)
        {
            t_scratch.AsSpan(0, compressed).CopyTo(stored);
            return result;
        }

        raw.CopyTo(stored);
        return (Codec.None, raw.Length);
    }

    /// <summary>
    /// Encodes a chunk where it lies: its stored bytes replace the prefix of <paramref name="chunk"/>
    /// (never longer than the raw chunk). Returns the codec and stored length.
    /// </summary>
    public static (Codec Codec, int Length) EncodeInPlace(Span<byte> chunk, Compression compression)
    {
        if (Compress(chunk, compression) is (not Codec.None, var compressed) result)
        {
            t_scratch.AsSpan(0, compressed).CopyTo(chunk);
            return result;
        }

        return (Codec.None, chunk.Length);
    }

    // The codec and length of raw compressed into t_scratch when that is shorter than raw, else (None, 0).
    private static (Codec Codec, int Length) Compress(ReadOnlySpan<byte> raw, Compression compression)
    {
        if (compression == Compression.Off || raw.Length < 256)
        {
            return (Codec.None, 0);
        }

        // Short chunks are tried whatever they hold: a probe would be most of them.
        double bitsPerByte = raw.Length > ProbeBytes * 2 ? ByteEntropy(raw[..ProbeBytes]) : 0;
        if (bitsPerByte >= RandomBitsPerByte)
        {
            return (Codec.None, 0);
        }

        byte[] scratch = t_scratch ??= new byte[Math.Max(
            Compressor.GetCompressBound(ChunkingParameters.MaximumChunkSize), LZ4Codec.MaximumOutputSize(ChunkingParameters.MaximumChunkSize))];
        var (codec, length) = compression == Compression.Lz4
            ? (Codec.Lz4, LZ4Codec.Encode(raw, scratch, LZ4Level.L00_FAST)) // gives up quickly on bytes it cannot shrink: no probe needed
            : (Codec.Zstd, bitsPerByte < RedundantBitsPerByte || ZstdProbeSaves(raw[..ProbeBytes], scratch) ? Zstd.Wrap(raw, scratch) : 0);
        return length > 0 && length < raw.Length ? (codec, length) : (Codec.None, 0);
    }

    /// <summary>
    /// Decodes a stored chunk and proves it is the chunk <paramref name="hash"/>; returns its raw bytes:
    /// <paramref name="stored"/> itself for raw chunks (no copy), else the decoded prefix of
    /// <paramref name="scratch"/>. Any mismatch is a <see cref="CorruptDataException"/>. The stored
    /// bytes' CRC is not checked: the hash proves more, and skipping the CRC saves a pull about
    /// 0.15 CPU-seconds per GiB. A check of stored packs, which looks for storage damage, checks it too.
    /// </summary>
    public static ReadOnlyMemory<byte> DecodeVerified(Codec codec, ReadOnlyMemory<byte> stored, Hash hash, int rawLength, Memory<byte> scratch)
    {
        ReadOnlyMemory<byte> raw;
        try
        {
            Decode(codec, stored.Span, rawLength, scratch.Span);
            raw = codec == Codec.None ? stored : scratch[..rawLength];
        }
        catch (CorruptDataException e)
        {
            throw new CorruptDataException($"Chunk {hash}: {e.Message}", e);
        }

        if (XetHashes.ChunkHash(raw.Span) != hash)
        {
            throw new CorruptDataException($"Chunk {hash}: content does not hash to its id.");
        }

        return raw;
    }

    /// <summary>
    /// Decodes a stored chunk without checking it: <paramref name="stored"/> itself for raw chunks,
    /// else the decoded prefix of <paramref name="scratch"/>. Bytes that cannot be the chunk's are a
    /// <see cref="CorruptDataException"/>.
    /// </summary>
    public static ReadOnlySpan<byte> Decode(Codec codec, ReadOnlySpan<byte> stored, int rawLength, Span<byte> scratch)
    {
        if (rawLength > ChunkingParameters.MaximumChunkSize || (codec != Codec.None && scratch.Length < rawLength))
        {
            throw new CorruptDataException($"raw length {rawLength} is out of range.");
        }

        switch (codec)
        {
            case Codec.None when stored.Length == rawLength:
                return stored;
            case Codec.Zstd:
                int written;
                try
                {
                    written = (t_decompressor ??= new Decompressor()).Unwrap(stored, scratch[..rawLength]);
                }
                catch (ZstdException e)
                {
                    throw new CorruptDataException($"zstd data does not decode ({e.Message}).", e);
                }

                return written == rawLength ? scratch[..rawLength] : throw new CorruptDataException($"decodes to {written} bytes, not {rawLength}.");
            case Codec.Lz4:
                int decoded = LZ4Codec.Decode(stored, scratch[..rawLength]); // bounds-checked: negative for bytes that are not an LZ4 block
                return decoded == rawLength ? scratch[..rawLength] : throw new CorruptDataException(
                    decoded < 0 ? "LZ4 data does not decode." : $"decodes to {decoded} bytes, not {rawLength}.");
            default:
                throw new CorruptDataException($"codec {codec} with {stored.Length} stored bytes for {rawLength} raw bytes is invalid.");
        }
    }

    // Entropy of the probe in bits per byte. Random bytes measure at least 7.9706 over 8 KiB (2000
    // samples), bytes that repeat with a period up to 4 KiB at most 7.9669: those still shrink, so
    // only the first are left raw unseen. Under 7 bits a byte, zstd's entropy coding alone saves
    // over 12%. The zstd probe costs ~25 µs a chunk (most of it resetting zstd's tables); the byte
    // count ~3 µs: on random data it was 0.35 CPU-seconds per GiB.
    private const double RandomBitsPerByte = 7.97;
    private const double RedundantBitsPerByte = 7.0;

    // For bytes between plainly redundant and random-looking, a full zstd attempt is worth it only
    // if zstd on the probe saves at least 3%.
    private static bool ZstdProbeSaves(ReadOnlySpan<byte> probe, byte[] scratch) => Zstd.Wrap(probe, scratch) < probe.Length * 97 / 100;

    private static Compressor Zstd => t_compressor ??= new Compressor(ZstdLevel);

    /// <summary>Shannon entropy of the byte values in <paramref name="bytes"/>, in bits per byte (0 to 8).</summary>
    internal static double ByteEntropy(ReadOnlySpan<byte> bytes)
    {
        // Four tables, so that runs of one byte value do not wait on their own counter's last store.
        Span<int> counts = stackalloc int[4 * 256];
        int i = 0;
        for (; i + 4 <= bytes.Length; i += 4)
        {
            counts[bytes[i]]++;
            counts[256 + bytes[i + 1]]++;
            counts[512 + bytes[i + 2]]++;
            counts[768 + bytes[i + 3]]++;
        }

        for (; i < bytes.Length; i++)
        {
            counts[bytes[i]]++;
        }

        double sum = 0;
        for (int value = 0; value < 256; value++)
        {
            int count = counts[value] + counts[256 + value] + counts[512 + value] + counts[768 + value];
            if (count > 0)
            {
                sum += count * Math.Log2(count);
            }
        }

        return bytes.IsEmpty ? 0 : Math.Log2(bytes.Length) - (sum / bytes.Length);
    }
}
