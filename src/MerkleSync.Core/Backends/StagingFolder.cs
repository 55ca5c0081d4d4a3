namespace MerkleSync.Core.Backends;

/// <summary>A local folder of unfinished blobs: each writer gets a file of its own, and what a crash left is removed on open.</summary>
internal static class StagingFolder
{
    /// <summary>A path for a new staged file in <paramref name="folder"/> (created if missing).</summary>
    public static string NewFile(string folder)
    {
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, $"{Guid.NewGuid():N}.partial");
    }

    /// <summary>Removes the staged files directly in <paramref name="folder"/> (not its subfolders, which others own).</summary>
    public static void RemoveFiles(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (string file in Directory.EnumerateFiles(folder, "*.partial"))
        {
            File.Delete(file);
        }
    }
}
