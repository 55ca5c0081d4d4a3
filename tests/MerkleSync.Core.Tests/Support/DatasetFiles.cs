using System.Text;

namespace MerkleSync.Core.Tests.Support;

/// <summary>Writes and compares dataset directories in tests.</summary>
internal static class DatasetFiles
{
    public static string Write(string root, string relative, byte[] content)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    public static byte[] Random(int seed, int length) => SplitMix64.Bytes((ulong)seed, length);

    public static byte[] Text(int seed, int length)
    {
        var random = new System.Random(seed);
        string[] words = ["alpha", "beta", "gamma", "delta", "data", "set", "row", "value", "0.25", "label"];
        var text = new StringBuilder(length + 16);
        while (text.Length < length)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(8) == 0 ? '\n' : ',');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    /// <summary>A small varied dataset: large random, text, nested, empty, executable and a symlink.</summary>
    public static void WriteSample(string root, int seed = 1)
    {
        Write(root, "data/big.bin", Random(seed, 4_500_000)); // above FileAssembler.SmallFileBytes: streamed, not batched
        Write(root, "data/other.bin", Random(seed + 1, 150_000));
        Write(root, "text/table.csv", Text(seed, 300_000));
        Write(root, "text/nested/deep/notes.txt", Text(seed + 2, 5_000));
        Write(root, "empty.txt", []);
        string tool = Write(root, "bin/tool.sh", "#!/bin/sh\necho hi\n"u8.ToArray());
        File.SetUnixFileMode(tool, File.GetUnixFileMode(tool) | UnixFileMode.UserExecute);
        File.CreateSymbolicLink(Path.Combine(root, "link-to-notes"), "text/nested/deep/notes.txt");
    }

    /// <summary>Every file (not .merklesync) with its bytes, executable bit, or link target.</summary>
    public static SortedDictionary<string, string> Describe(string root)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (relative.StartsWith(".merklesync", StringComparison.Ordinal))
            {
                continue;
            }

            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                result[relative] = "link:" + target;
            }
            else if (File.Exists(path))
            {
                bool executable = (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0;
                result[relative] = (executable ? "x:" : "f:") + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
            }
        }

        return result;
    }
}
