using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Tree;

/// <summary>
/// An inner node's reference to a child subtree: the last path under it (for seeking), the child's
/// node id, and how many entries and content bytes the subtree holds (so counts need no walk).
/// </summary>
public readonly record struct TreeChild(string LastPath, Hash NodeId, long EntryCount, long TotalBytes);
