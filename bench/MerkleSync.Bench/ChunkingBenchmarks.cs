using BenchmarkDotNet.Attributes;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Bench;

/// <summary>In-memory chunking and hashing over 64 MiB of random bytes.</summary>
[MemoryDiagnoser]
public class ChunkingBenchmarks
{
    private byte[] _data = [];

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[64 << 20];
        new Random(7).NextBytes(_data);
    }

    [Benchmark]
    public int ChunkOnly() => StreamChunker.ChunkLengths(_data).Count;

    [Benchmark]
    public Hash ChunkAndHash() => ContentHasher.Hash(_data).FileHash;

    [Benchmark]
    public Hash HashOnly() => XetHashes.ChunkHash(_data);

    /// <summary>Keyed BLAKE3 of each 64 KiB piece (a mean Xet chunk) through the Blake3 package.</summary>
    [Benchmark]
    public byte PiecesPackage()
    {
        Span<byte> digest = stackalloc byte[32];
        byte sum = 0;
        for (int offset = 0; offset + PieceLength <= _data.Length; offset += PieceLength)
        {
            using var hasher = Blake3.Hasher.NewKeyed(XetHashes.DataKey);
            hasher.Update(_data.AsSpan(offset, PieceLength));
            hasher.Finalize(digest);
            sum ^= digest[0];
        }

        return sum;
    }

    /// <summary>The same through <see cref="XetHashes.ChunkHash"/> (sixteen lanes of AVX-512 where the CPU has it).</summary>
    [Benchmark]
    public byte PiecesChunkHash()
    {
        byte sum = 0;
        for (int offset = 0; offset + PieceLength <= _data.Length; offset += PieceLength)
        {
            sum ^= (byte)XetHashes.ChunkHash(_data.AsSpan(offset, PieceLength)).GetHashCode();
        }

        return sum;
    }

    // 64 KiB less a little, so that each piece ends in a partial BLAKE3 chunk as most Xet chunks do.
    private const int PieceLength = (64 << 10) - 100;
}
