using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Restore;

/// <summary>
/// Large files a pull has staged and verified, kept under their file hash in the staging folder
/// until they are placed: a pull that is interrupted (Ctrl-C, a lost connection, a kill) leaves
/// them there, and the next pull of a version with such a file checks it again and places it
/// instead of downloading it again. Small files are not kept: fetching them again costs less than
/// a rename each.
/// </summary>
internal static class VerifiedStagedFiles
{
    private const string Suffix = ".verified";

    public static string PathOf(string staging, Hash fileHash) => Path.Combine(staging, fileHash + Suffix);

    /// <summary>Whether <paramref name="path"/> names a kept file (which the state's clean-up of staged files leaves alone).</summary>
    public static bool IsKept(string path) => FileHashOf(path) is not null;

    /// <summary>The file hash a kept file is named by; null for any other name.</summary>
    private static Hash? FileHashOf(string path)
    {
        string name = Path.GetFileName(path);
        return name.EndsWith(Suffix, StringComparison.Ordinal) && Hash.TryParse(name[..^Suffix.Length], out var fileHash) ? fileHash : null;
    }

    private static IEnumerable<(Hash FileHash, string Path)> KeptIn(string staging)
    {
        foreach (string path in Directory.EnumerateFiles(staging, "*" + Suffix))
        {
            if (FileHashOf(path) is { } fileHash)
            {
                yield return (fileHash, path);
            }
        }
    }

    /// <summary>
    /// Keeps a staged, verified file under its hash; returns where it now is. Another entry of the
    /// same content may have taken that name in this pull: the file then stays where it is.
    /// </summary>
    public static string Keep(string staging, string stagedPath, Hash fileHash)
    {
        string kept = PathOf(staging, fileHash);
        try
        {
            File.Move(stagedPath, kept, overwrite: false);
            return kept;
        }
        catch (IOException) when (File.Exists(kept))
        {
            return stagedPath;
        }
    }

    /// <summary>
    /// Takes the kept files that are entries of <paramref name="toWrite"/>, each read again and
    /// proved by its file hash (one per distinct content); a kept file that fails is deleted.
    /// </summary>
    public static async Task<List<(TreeEntry Entry, string Staged, ChunkedContent Content)>> TakeAsync(
        string staging, IEnumerable<TreeEntry> toWrite, CancellationToken cancellationToken)
    {
        var taken = new List<(TreeEntry, string, ChunkedContent)>();
        var kept = KeptIn(staging).ToDictionary(f => f.FileHash, f => f.Path);
        foreach (var entry in toWrite)
        {
            if (kept.Count == 0)
            {
                break;
            }

            if (entry.Mode == EntryMode.Symlink || !kept.Remove(entry.FileHash, out string? path))
            {
                continue;
            }

            long length = new FileInfo(path).Length;
            var content = length == entry.Size
                ? await Snapshotter.HashFileAsync(new ScannedFile(entry.Path, path, EntryMode.Regular, length), cancellationToken).ConfigureAwait(false)
                : null;
            if (content?.FileHash == entry.FileHash)
            {
                taken.Add((entry, path, content));
            }
            else
            {
                File.Delete(path);
            }
        }

        return taken;
    }

    /// <summary>Deletes the kept files no pull has placed (a completed pull leaves none for later).</summary>
    public static void RemoveAll(string staging)
    {
        foreach (var (_, path) in KeptIn(staging))
        {
            File.Delete(path);
        }
    }
}
