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

    /// <summary>Lines of words drawn from a small vocabulary: text that zstd shrinks to about a third, like a CSV or log.</summary>
    public static byte[] Text(int seed, int length)
    {
        var random = new Random(seed);
        string[] syllables = ["ga", "pi", "roum", "sta", "ish", "zu", "ber", "fe", "mi", "con", "thor", "ex"];
        string[] words = [.. Enumerable.Range(0, 300).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => syllables[random.Next(syllables.Length)])))];
        byte[] bytes = new byte[length];
        for (int at = 0; at < length;)
        {
            string word = words[random.Next(words.Length)] + (random.Next(12) == 0 ? "\n" : " ");
            at += System.Text.Encoding.ASCII.GetBytes(word.AsSpan(0, Math.Min(word.Length, length - at)), bytes.AsSpan(at));
        }

        return bytes;
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
