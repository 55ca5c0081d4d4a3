using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Tree;

internal static class TreeTestData
{
    public static TreeEntry Entry(string path, int content, EntryMode mode = EntryMode.Regular) =>
        new(path, XetHashes.ChunkHash(BitConverter.GetBytes(content)), content, mode);

    /// <summary>n entries in nested folders, sorted canonically.</summary>
    public static List<TreeEntry> Entries(int count, int salt = 0)
    {
        var entries = Enumerable.Range(0, count)
            .Select(i => Entry($"dir{i % 37}/sub{i % 5}/file-{i:D7}.bin", i + salt))
            .ToList();
        entries.Sort((a, b) => DatasetPath.Compare(a.Path, b.Path));
        return entries;
    }

    public static async Task<List<TreeChange>> DiffAsync(ITreeNodeStore store, Hash a, Hash b)
    {
        var changes = new List<TreeChange>();
        await foreach (var change in TreeDiff.DiffAsync(store, a, b, CancellationToken.None))
        {
            changes.Add(change);
        }

        return changes;
    }
}
