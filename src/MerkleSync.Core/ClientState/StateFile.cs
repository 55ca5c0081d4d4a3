namespace MerkleSync.Core.ClientState;

/// <summary>Small files of the client state beside its database, replaced whole: readers see the old file or the new one, never a part.</summary>
internal static class StateFile
{
    /// <summary>Writes <paramref name="bytes"/> aside and renames them over <paramref name="path"/>; <paramref name="ownerOnly"/> creates the file readable by its owner alone (on Unix).</summary>
    public static void Replace(string path, ReadOnlySpan<byte> bytes, bool ownerOnly = false)
    {
        string aside = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (ownerOnly && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(aside, options))
        {
            file.Write(bytes);
        }

        File.Move(aside, path, overwrite: true);
    }
}
