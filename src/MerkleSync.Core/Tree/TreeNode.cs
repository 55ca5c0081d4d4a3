using System.Buffers;
using System.Text;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.Tree;

/// <summary>
/// One node of a snapshot tree: a leaf (level 0) holds entries, an inner node holds children.
/// The binary encoding is canonical (one encoding per node), so the node id is a content address.
/// </summary>
public sealed class TreeNode
{
    private TreeNode(int level, TreeEntry[] entries, TreeChild[] children)
    {
        Level = level;
        Entries = entries;
        Children = children;
    }

    public int Level { get; }

    /// <summary>The entries of a leaf, in path order; empty for inner nodes.</summary>
    public IReadOnlyList<TreeEntry> Entries { get; }

    /// <summary>The children of an inner node, in path order; empty for leaves.</summary>
    public IReadOnlyList<TreeChild> Children { get; }

    public bool IsLeaf => Level == 0;

    public int Count => IsLeaf ? Entries.Count : Children.Count;

    public static TreeNode Leaf(TreeEntry[] entries) => new(0, entries, []);

    public static TreeNode Inner(int level, TreeChild[] children) => new(level, [], children);

    /// <summary>
    /// Encoding: version, level, item count, then the items. Each item starts with its path as
    /// (bytes shared with the previous item's path, rest length, rest bytes); a leaf item follows
    /// with mode, size and file hash; an inner item with child id, entry count and byte count.
    /// </summary>
    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(64 + (Count * 96));
        writer.Write([TreeFormat.Version, (byte)Level]);
        Varint.Write(writer, (ulong)Count);
        byte[] previous = [];
        for (int i = 0; i < Count; i++)
        {
            string path = IsLeaf ? Entries[i].Path : Children[i].LastPath;
            byte[] current = DatasetPath.Utf8.GetBytes(path);
            int shared = current.AsSpan().CommonPrefixLength(previous);
            Varint.Write(writer, (ulong)shared);
            Varint.Write(writer, (ulong)(current.Length - shared));
            writer.Write(current.AsSpan(shared));
            if (IsLeaf)
            {
                var entry = Entries[i];
                writer.Write([(byte)entry.Mode]);
                Varint.Write(writer, (ulong)entry.Size);
                entry.FileHash.WriteTo(writer.GetSpan(Hash.Size));
                writer.Advance(Hash.Size);
            }
            else
            {
                var child = Children[i];
                child.NodeId.WriteTo(writer.GetSpan(Hash.Size));
                writer.Advance(Hash.Size);
                Varint.Write(writer, (ulong)child.EntryCount);
                Varint.Write(writer, (ulong)child.TotalBytes);
            }

            previous = current;
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes and fully validates an untrusted node; throws <see cref="CorruptDataException"/>.</summary>
    public static TreeNode Decode(ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        byte version = reader.ReadByte();
        if (version != TreeFormat.Version)
        {
            throw new CorruptDataException($"Tree node has format version {version}; this build reads version {TreeFormat.Version}.");
        }

        int level = reader.ReadByte();
        if (level > TreeFormat.MaxLevel)
        {
            throw new CorruptDataException($"Tree node claims level {level}; the limit is {TreeFormat.MaxLevel}.");
        }

        ulong count = reader.ReadVarint();
        int max = level == 0 ? TreeFormat.MaxLeafEntries : TreeFormat.MaxChildren;
        if (count > (ulong)max)
        {
            throw new CorruptDataException($"Tree node holds {count} items; the limit at level {level} is {max}.");
        }

        var entries = level == 0 ? new TreeEntry[count] : [];
        var children = level == 0 ? [] : new TreeChild[count];
        byte[] previous = [];
        string? previousPath = null;
        for (int i = 0; i < (int)count; i++)
        {
            int shared = reader.ReadLength(previous.Length);
            int rest = reader.ReadLength(DatasetPath.MaxUtf8Length - shared);
            byte[] current = new byte[shared + rest];
            previous.AsSpan(0, shared).CopyTo(current);
            reader.ReadBytes(rest).CopyTo(current.AsSpan(shared));
            string path = DecodePath(current);
            if (previousPath is not null && DatasetPath.Compare(previousPath, path) >= 0)
            {
                throw new CorruptDataException($"Tree node items are out of order at '{path}'.");
            }

            if (level == 0)
            {
                byte mode = reader.ReadByte();
                if (!Enum.IsDefined((EntryMode)mode))
                {
                    throw new CorruptDataException($"Tree entry '{path}' has unknown mode {mode}.");
                }

                long size = reader.ReadInt64Varint();
                entries[i] = new TreeEntry(path, Hash.FromBytes(reader.ReadBytes(Hash.Size)), size, (EntryMode)mode);
            }
            else
            {
                var id = Hash.FromBytes(reader.ReadBytes(Hash.Size));
                children[i] = new TreeChild(path, id, reader.ReadInt64Varint(), reader.ReadInt64Varint());
            }

            previous = current;
            previousPath = path;
        }

        if (!reader.AtEnd)
        {
            throw new CorruptDataException("Tree node has trailing bytes after its last item.");
        }

        return new TreeNode(level, entries, children);
    }

    private static string DecodePath(byte[] utf8)
    {
        string path;
        try
        {
            path = DatasetPath.Utf8.GetString(utf8);
        }
        catch (DecoderFallbackException e)
        {
            throw new CorruptDataException("Tree node holds a path that is not valid UTF-8.", e);
        }

        string? error = DatasetPath.Validate(path, out string normalized);
        if (error is not null || normalized != path)
        {
            throw new CorruptDataException($"Tree node holds a non-canonical path '{path}': {error ?? "not NFC"}.");
        }

        return path;
    }
}
