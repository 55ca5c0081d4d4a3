using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>One file of a snapshot: canonical path, Xet file hash of its content, size in bytes, mode.</summary>
public readonly record struct TreeEntry(string Path, Hash FileHash, long Size, EntryMode Mode);
