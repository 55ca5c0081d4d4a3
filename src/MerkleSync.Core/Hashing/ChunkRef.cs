namespace MerkleSync.Core.Hashing;

/// <summary>A chunk as the Merkle layers see it: its hash and its raw (uncompressed) length.</summary>
public readonly record struct ChunkRef(Hash Hash, ulong Length);
