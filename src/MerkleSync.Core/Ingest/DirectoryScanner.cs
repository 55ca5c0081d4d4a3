using System.IO.Enumeration;
using System.Runtime.InteropServices;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>A file found by a scan, before its content is read; <paramref name="Stat"/> when the scan already took it.</summary>
public sealed record ScannedFile(string Path, string FullPath, EntryMode Mode, long Size, FileStat? Stat = null);

/// <summary>
/// Lists the files of a dataset directory in canonical path order, without reading them; what
/// its <see cref="IgnoreRules.FileName"/> excludes is left out (excluded folders are not entered).
/// </summary>
public static class DirectoryScanner
{
    /// <summary><see cref="Scan"/> on the thread pool, so the caller can do other work meanwhile.</summary>
    public static Task<List<ScannedFile>> ScanAsync(string root, CancellationToken cancellationToken, List<string>? specialFiles = null) =>
        Task.Run(() => Scan(root, specialFiles: specialFiles), cancellationToken);

    /// <inheritdoc cref="ScanAsync(string, CancellationToken, List{string}?)"/>
    public static Task<List<ScannedFile>> ScanAsync(string root, bool applyIgnoreFile, CancellationToken cancellationToken) =>
        Task.Run(() => Scan(root, applyIgnoreFile), cancellationToken);

    /// <summary>
    /// The files under <paramref name="root"/>; with <paramref name="applyIgnoreFile"/> false, also
    /// those its ignore file excludes. FIFOs, sockets and devices are left out: they have no content
    /// to version (as with git), and reading a FIFO would block. <paramref name="specialFiles"/>,
    /// if given, receives their paths (not ignored ones), so a caller can say what was left out.
    /// </summary>
    public static List<ScannedFile> Scan(string root, bool applyIgnoreFile = true, List<string>? specialFiles = null)
    {
        RequireDirectory(root);
        var directory = new DirectoryInfo(root);

        var ignore = applyIgnoreFile ? IgnoreRules.Load(directory.FullName) : null;
        var files = new List<ScannedFile>();
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = false,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        };

        // A level of the tree at a time: list the names of its folders (cheap), then lstat all of
        // them on all cores (one call per entry says what it is; no readlink of regular files).
        var level = new List<Listed> { new(directory.FullName, string.Empty) };
        var entries = new List<Listed>();
        while (level.Count > 0)
        {
            entries.Clear();
            foreach (var (current, prefix) in level)
            {
                try
                {
                    entries.AddRange(new FileSystemEnumerable<Listed>(
                        current, (ref FileSystemEntry entry) => new(System.IO.Path.Join(current, entry.FileName), DatasetPath.Normalize(string.Concat(prefix, entry.FileName))), options)
                    {
                        // Client state is never data, at any depth: a dataset folder nested in this one has
                        // its own, and its tokens file holds secrets.
                        ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.FileName.SequenceEqual(DatasetPath.StateFolderName),
                    });
                }
                catch (UnauthorizedAccessException e)
                {
                    throw PermissionDenied(current, "folder", e);
                }
            }

            var kinds = new (FileStat Stat, uint Mode, bool Known, int Error)[entries.Count];
            Parallel.For(0, entries.Count, i => kinds[i].Known = FileStat.TryStat(entries[i].FullPath, followLinks: false, out kinds[i].Stat, out kinds[i].Mode, out kinds[i].Error));
            level = [];
            for (int i = 0; i < entries.Count; i++)
            {
                var ((fullPath, path), (stat, mode, known, error)) = (entries[i], kinds[i]);
                if (!known)
                {
                    RefuseUnreadable(fullPath, error);
                    AddPortably(files, level, new FileInfo(fullPath), path, ignore);
                    continue;
                }

                if (ignore is not null && ignore.IsIgnored(path, (mode & FileTypeMask) == DirectoryType))
                {
                    continue;
                }

                switch (mode & FileTypeMask)
                {
                    case DirectoryType:
                        level.Add(new(fullPath, path + "/"));
                        break;
                    case SymlinkType:
                        // Symlinks are recorded as links, never followed: a link out of the dataset stays a link.
                        files.Add(new ScannedFile(path, fullPath, EntryMode.Symlink, DatasetPath.Utf8.GetByteCount(new FileInfo(fullPath).LinkTarget ?? ""), stat));
                        break;
                    case RegularType:
                        files.Add(new ScannedFile(path, fullPath, (mode & OwnerExecute) != 0 ? EntryMode.Executable : EntryMode.Regular, stat.Size, stat));
                        break;
                    default:
                        specialFiles?.Add(path);
                        break;
                }
            }
        }

        files.Sort((x, y) => DatasetPath.Compare(x.Path, y.Path));
        RefuseNormalizationCollisions(directory.FullName, files);
        specialFiles?.Sort(DatasetPath.Compare);
        return files;
    }

    /// <summary>
    /// An entry the scan listed but cannot stat for another reason than being gone (deleted since,
    /// or a name that is not UTF-8, which <see cref="AddPortably"/> names) would be left out of the
    /// version without a word, and with it everything below it: a path longer than the system
    /// takes, say. Stop and say which.
    /// </summary>
    private static void RefuseUnreadable(string fullPath, int error)
    {
        const int NoSuchFile = 2, AccessDenied = 13, NotADirectory = 20; // ENOENT, EACCES, ENOTDIR: the same numbers on Linux and macOS
        if (error is 0 or NoSuchFile or NotADirectory)
        {
            return;
        }

        if (error == AccessDenied)
        {
            // lstat needs search permission only: its folder could be listed but not searched.
            throw PermissionDenied(System.IO.Path.GetDirectoryName(fullPath)!, "folder", new UnauthorizedAccessException(Marshal.GetPInvokeErrorMessage(error)));
        }

        int length = DatasetPath.Utf8.GetByteCount(fullPath);
        throw new InvalidInputException($"'{Shortened(fullPath)}' cannot be read: {Marshal.GetPInvokeErrorMessage(error)} (its full path is {length} bytes). "
            + "MerkleSync stops rather than leave it, and what is below it, out of the snapshot; move the dataset, or shorten the names on its path.");
    }

    /// <summary>
    /// A file or folder this user may not read: a snapshot without it would drop it (and what is
    /// below it) from the version, so the command stops and says how to go on.
    /// </summary>
    public static InvalidInputException PermissionDenied(string fullPath, string what, Exception cause) =>
        new($"The {what} '{Shortened(fullPath)}' cannot be read: permission denied. MerkleSync stops rather than leave it out of the snapshot; "
            + $"give this user read access to it, or list it in {IgnoreRules.FileName} to leave it out of pushes.", cause);

    private static string Shortened(string path) => path.Length <= 200 ? path : $"{path[..100]}…{path[^100..]}";

    /// <summary>
    /// Paths in a version are NFC, so two names on disk that differ only in Unicode normalization
    /// (a name written on macOS and one written on Linux) are one dataset path, or a file and a
    /// folder at one path: say which names, in a form that shows the difference, before a snapshot
    /// meets a "duplicate". In canonical order a folder's entries follow the path right after it.
    /// </summary>
    private static void RefuseNormalizationCollisions(string root, List<ScannedFile> files)
    {
        for (int i = 1; i < files.Count; i++)
        {
            var (a, b) = (files[i - 1], files[i]);
            if (a.Path == b.Path || b.Path.StartsWith(a.Path + "/", StringComparison.Ordinal))
            {
                throw new InvalidInputException(
                    $"'{Escaped(root, a.FullPath)}' and '{Escaped(root, b.FullPath)}' are the same path in a version ('{a.Path}'): paths are kept in Unicode NFC, "
                    + "and these names differ only in how their characters are composed. Rename one of them.");
            }
        }
    }

    /// <summary>The path under <paramref name="root"/>, non-ASCII and control characters as \uXXXX: composed and decomposed forms look alike otherwise.</summary>
    private static string Escaped(string root, string fullPath) =>
        string.Concat(System.IO.Path.GetRelativePath(root, fullPath).Select(c => char.IsAscii(c) && !char.IsControl(c) ? c.ToString() : $"\\u{(int)c:X4}"));

    /// <summary>Refuses a dataset root that is missing or is a file, saying which.</summary>
    internal static void RequireDirectory(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new InvalidInputException(File.Exists(root) ? $"'{root}' is a file; give the folder that holds the dataset." : $"Directory '{root}' does not exist.");
        }
    }

    /// <summary>
    /// A file named on a command line, its symlinks followed, as b3sum and sha256sum do (in a walked
    /// directory a symlink is what a version records: the link). Null for a FIFO or a character
    /// device (a pipe such as bash's &lt;(...), /dev/stdin): content to read once, as a stream,
    /// whose size is not known before. A socket has nothing to read and is refused.
    /// </summary>
    public static ScannedFile? ScanNamedFile(string path)
    {
        if (FileStat.TryStat(path, followLinks: true, out var stat, out uint mode))
        {
            return (mode & FileTypeMask) switch
            {
                FifoType or CharacterDeviceType => null,
                SocketType => throw new InvalidInputException($"'{path}' is a socket: it has no content to read."),
                _ => new ScannedFile(path, System.IO.Path.GetFullPath(path), EntryMode.Regular, stat.Size, stat),
            };
        }

        var info = new FileInfo(path);
        if (info.LinkTarget is { } target && info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: false })
        {
            throw new InvalidInputException($"'{path}' is a symbolic link to '{target}', which does not exist.");
        }

        return info.Exists ? new ScannedFile(path, info.FullName, EntryMode.Regular, info.Length) : throw new InvalidInputException($"'{path}' does not exist.");
    }

    private const uint FileTypeMask = 0xF000, DirectoryType = 0x4000, SymlinkType = 0xA000, RegularType = 0x8000, FifoType = 0x1000, CharacterDeviceType = 0x2000, SocketType = 0xC000, OwnerExecute = 0x40;

    // A listed name: its full path and its path in the dataset (for a folder still to list, the prefix
    // of its entries, ending in '/'). A class, not a value tuple: lists and enumerables of it run the
    // shared code the ahead-of-time image holds, where a tuple's were compiled at run time in every scan.
    private sealed record Listed(string FullPath, string Path);

    // Where lstat's layout is not known, or lstat failed: ask through FileSystemInfo.
    private static void AddPortably(List<ScannedFile> files, List<Listed> pending, FileInfo item, string path, IgnoreRules? ignore)
    {
        if (!item.Exists && !Directory.Exists(item.FullName) && !IsLink(item))
        {
            // Not there by the name it was listed under. A name that is not UTF-8 reads back with
            // U+FFFD for its bad bytes, a name no file has; paths in a version are UTF-8, so say
            // which file it is and how to leave it out. Otherwise the entry was deleted after the
            // listing (a temporary file, say) and is no longer part of the dataset.
            if (path.Contains('\uFFFD', StringComparison.Ordinal) && ignore?.IsIgnored(path, isDirectory: false) != true && ignore?.IsIgnored(path, isDirectory: true) != true)
            {
                throw new InvalidInputException(
                    $"'{item.FullName}' has a name that is not valid UTF-8 (shown with \uFFFD for its bad bytes); paths in a version are UTF-8, as in Xet and Git. Rename it, or leave it out with a pattern in {IgnoreRules.FileName}.");
            }

            return;
        }

        if (ignore is not null && ignore.IsIgnored(path, item.LinkTarget is null && (item.Attributes & FileAttributes.Directory) != 0))
        {
            return;
        }

        if (item.LinkTarget is { } target)
        {
            files.Add(new ScannedFile(path, item.FullName, EntryMode.Symlink, DatasetPath.Utf8.GetByteCount(target)));
        }
        else if ((item.Attributes & FileAttributes.Directory) != 0)
        {
            pending.Add(new(item.FullName, path + "/"));
        }
        else if (item.Exists)
        {
            files.Add(new ScannedFile(path, item.FullName, ModeOf(item), item.Length));
        }
    }

    private static bool IsLink(FileInfo item)
    {
        try
        {
            return item.LinkTarget is not null;
        }
        catch (IOException)
        {
            return false; // gone, or never there under this name
        }
    }

    private static EntryMode ModeOf(FileInfo file) =>
        !OperatingSystem.IsWindows() && (file.UnixFileMode & UnixFileMode.UserExecute) != 0 ? EntryMode.Executable : EntryMode.Regular;
}
