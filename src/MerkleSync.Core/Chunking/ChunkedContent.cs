using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Chunking;

/// <summary>A file's content as chunks: its Xet file hash, length and chunk list.</summary>
public sealed record ChunkedContent(Hash FileHash, long Length, ChunkRef[] Chunks);
