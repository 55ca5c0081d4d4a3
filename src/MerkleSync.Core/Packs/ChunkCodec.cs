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
}

/// <summary>
/// Whether a push compresses the chunks it packs, like restic's <c>--compression</c>: Auto stores
/// each chunk compressed when that makes it smaller (<see cref="ChunkCodec"/>); Off stores every
/// chunk raw, which on a fast link (or loopback) saves the CPU that compressing text costs. Packs
/// of either kind read the same way.
/// </summary>
public enum Compression
{
    Auto = 0,
    Off = 1,
}

/// <summary>
/// Chooses and applies a chunk's codec: zstd level 1 when it makes the chunk smaller, else raw
/// (on the benchmark dataset level 3 stored only 0.2% less for ~0.4 CPU-seconds more per GiB).
/// The byte entropy of the first 8 KiB sorts most chunks before any zstd work: random-looking
/// bytes (already-compressed formats, encrypted or random data) stay raw, plainly redundant ones
/// are compressed; only those in between pay for a zstd probe.
/// </summary>
public static class ChunkCodec
{
    private const int Level = 1;
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
    public static (Codec Codec, int Length) Encode(ReadOnlySpan<byte> raw, Span<byte> stored, Compression compression = Compression.Auto)
    {
        if (compression == Compression.Auto && Compress(raw) is > 0 and var compressed)
        {
            t_scratch.AsSpan(0, compressed).CopyTo(stored);
            return (Codec.Zstd, compressed);
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
        if (compression == Compression.Auto && Compress(chunk) is > 0 and var compressed)
        {
            t_scratch.AsSpan(0, compressed).CopyTo(chunk);
            return (Codec.Zstd, compressed);
        }

        return (Codec.None, chunk.Length);
    }

    // The length of raw compressed into t_scratch when that is shorter than raw, else 0.
    private static int Compress(ReadOnlySpan<byte> raw)
    {
        if (raw.Length < 256 || !LooksCompressible(raw))
        {
            return 0;
        }

        var compressor = t_compressor ??= new Compressor(Level);
        byte[] scratch = t_scratch ??= new byte[Compressor.GetCompressBound(ChunkingParameters.MaximumChunkSize)];
        int compressed = compressor.Wrap(raw, scratch);
        return compressed < raw.Length ? compressed : 0;
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
            default:
                throw new CorruptDataException($"codec {codec} with {stored.Length} stored bytes for {rawLength} raw bytes is invalid.");
        }
    }

    // Entropy of the probe in bits per byte. Random bytes measure at least 7.9706 over 8 KiB (2000
    // samples), bytes that repeat with a period up to 4 KiB at most 7.9669: those zstd still
    // shrinks, so only the first are left raw unseen. Under 7 bits a byte, entropy coding alone
    // saves over 12%. The zstd probe costs ~25 µs a chunk (most of it resetting zstd's tables);
    // the byte count ~3 µs: on random data it was 0.35 CPU-seconds per GiB.
    private const double RandomBitsPerByte = 7.97;
    private const double RedundantBitsPerByte = 7.0;

    // Whether a full zstd attempt is worth it: the prefix's byte entropy decides where it is clear;
    // in between, zstd level 1 on the prefix must save at least 3%.
    private static bool LooksCompressible(ReadOnlySpan<byte> raw)
    {
        if (raw.Length <= ProbeBytes * 2)
        {
            return true;
        }

        var probe = raw[..ProbeBytes];
        double bitsPerByte = ByteEntropy(probe);
        if (bitsPerByte < RedundantBitsPerByte)
        {
            return true;
        }

        if (bitsPerByte >= RandomBitsPerByte)
        {
            return false;
        }

        var compressor = t_compressor ??= new Compressor(Level);
        byte[] scratch = t_scratch ??= new byte[Compressor.GetCompressBound(ChunkingParameters.MaximumChunkSize)];
        return compressor.Wrap(probe, scratch) < ProbeBytes * 97 / 100;
    }

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
