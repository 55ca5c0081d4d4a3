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
}
