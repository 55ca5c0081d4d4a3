using MerkleSync.Core.Errors;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>A file found by a scan, before its content is read.</summary>
public sealed record ScannedFile(string Path, string FullPath, EntryMode Mode, long Size);

/// <summary>Lists the files of a dataset directory in canonical path order, without reading them.</summary>
public static class DirectoryScanner
{
    /// <summary>The client's state folder at the dataset root; never part of a snapshot.</summary>
    public const string StateFolderName = ".merklesync";

    public static List<ScannedFile> Scan(string root)
    {
        var directory = new DirectoryInfo(root);
        if (!directory.Exists)
        {
            throw new InvalidInputException($"Directory '{root}' does not exist.");
        }

        var files = new List<ScannedFile>();
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = false,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        };
        var pending = new Stack<(DirectoryInfo Directory, string Prefix)>();
        pending.Push((directory, string.Empty));
        while (pending.Count > 0)
        {
            var (current, prefix) = pending.Pop();
            foreach (var item in current.EnumerateFileSystemInfos("*", options))
            {
                if (prefix.Length == 0 && item.Name == StateFolderName)
                {
                    continue;
                }

                string path = DatasetPath.Normalize(prefix + item.Name);
                if (item.LinkTarget is { } target)
                {
                    // Symlinks are recorded as links, never followed: a link out of the dataset stays a link.
                    files.Add(new ScannedFile(path, item.FullName, EntryMode.Symlink, DatasetPath.Utf8.GetByteCount(target)));
                }
                else if (item is DirectoryInfo subdirectory)
                {
                    pending.Push((subdirectory, path + "/"));
                }
                else if (item is FileInfo file)
                {
                    files.Add(new ScannedFile(path, file.FullName, ModeOf(file), file.Length));
                }
            }
        }

        files.Sort((x, y) => DatasetPath.Compare(x.Path, y.Path));
        return files;
    }

    private static EntryMode ModeOf(FileInfo file) =>
        !OperatingSystem.IsWindows() && (file.UnixFileMode & UnixFileMode.UserExecute) != 0 ? EntryMode.Executable : EntryMode.Regular;
}
