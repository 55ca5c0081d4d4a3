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
