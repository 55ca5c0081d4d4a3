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
/// Chooses and applies a chunk's codec: zstd level 1 when it makes the chunk smaller, else raw
/// (on the benchmark dataset level 3 stored only 0.2% less for ~0.4 CPU-seconds more per GiB).
/// A cheap probe on the first 8 KiB skips incompressible data (random bytes, already-compressed
/// formats) without paying for a full attempt.
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
    /// chunk) and returns the codec and stored length.
    /// </summary>
    public static (Codec Codec, int Length) Encode(ReadOnlySpan<byte> raw, Span<byte> stored)
    {
        if (Compress(raw) is > 0 and var compressed)
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
    public static (Codec Codec, int Length) EncodeInPlace(Span<byte> chunk)
    {
        if (Compress(chunk) is > 0 and var compressed)
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
    /// <paramref name="scratch"/>. Any mismatch is a <see cref="CorruptDataException"/>.
    /// </summary>
    public static ReadOnlyMemory<byte> DecodeVerified(Codec codec, ReadOnlyMemory<byte> stored, uint crc32C, Hash hash, int rawLength, Memory<byte> scratch)
    {
        if (Crc32C.Compute(stored.Span) != crc32C)
        {
            throw new CorruptDataException($"Chunk {hash}: stored bytes fail their CRC-32C check.");
        }

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

    // zstd level 1 on a prefix: if even that saves under 3%, the whole chunk is not worth a try.
    private static bool LooksCompressible(ReadOnlySpan<byte> raw)
    {
        if (raw.Length <= ProbeBytes * 2)
        {
            return true;
        }

        var compressor = t_compressor ??= new Compressor(Level);
        byte[] scratch = t_scratch ??= new byte[Compressor.GetCompressBound(ChunkingParameters.MaximumChunkSize)];
        compressor.Level = 1;
        try
        {
            return compressor.Wrap(raw[..ProbeBytes], scratch) < ProbeBytes * 97 / 100;
        }
        finally
        {
            compressor.Level = Level;
        }
    }
}
