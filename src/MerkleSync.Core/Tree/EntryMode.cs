namespace MerkleSync.Core.Tree;

/// <summary>
/// What a snapshot entry is. Persisted in tree nodes as one byte: values never change meaning
/// (a test freezes them); a new kind gets a new value.
/// </summary>
public enum EntryMode : byte
{
    /// <summary>A regular file.</summary>
    Regular = 0,

    /// <summary>A regular file with the owner's execute bit set.</summary>
    Executable = 1,

    /// <summary>A symbolic link; its content is the link target's UTF-8 bytes.</summary>
    Symlink = 2,
}
