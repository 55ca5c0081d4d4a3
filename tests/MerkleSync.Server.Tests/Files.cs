namespace MerkleSync.Server.Tests;

internal static class Files
{
    public static void Write(string root, string relative, byte[] content)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    public static byte[] Random(int seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Comma-separated words in lines, as <c>DatasetFiles.Text</c> writes them for the core tests: text zstd shrinks well, like a CSV.</summary>
    public static byte[] Text(int seed, int length)
    {
        var random = new Random(seed);
        string[] words = ["alpha", "beta", "gamma", "delta", "data", "set", "row", "value", "0.25", "label"];
        var text = new System.Text.StringBuilder(length + 16);
        while (text.Length < length)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(8) == 0 ? '\n' : ',');
        }

        return System.Text.Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    public static void AssertSameTree(string expected, string actual)
    {
        string[] Files(string root) => [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f)).Where(f => !f.StartsWith(".merklesync", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        Assert.Equal(Files(expected), Files(actual));
        foreach (string file in Files(expected))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(expected, file)), File.ReadAllBytes(Path.Combine(actual, file)));
        }
    }
}
