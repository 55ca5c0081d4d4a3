using System.Globalization;
using System.Text;

namespace MerkleSync.Cli.Demo;

/// <summary>
/// A small deterministic stand-in for shared/bench/gen_versions.py: a v1 of large random shards and
/// small text and binary files, and a v2 with the same kinds of edits (insertions and overwrites in
/// shards, edited, deleted, added, appended and renamed small files).
/// </summary>
internal sealed class DemoDataset(long totalBytes, int seed)
{
    private const int Shards = 4;
    private static readonly string[] Words = ["data", "model", "chunk", "merkle", "tree", "sync", "version", "hash", "file", "set", "train", "eval"];

    public void WriteV1(string directory)
    {
        var random = new Random(seed);
        long shardBytes = totalBytes * 3 / 4 / Shards;
        for (int i = 0; i < Shards; i++)
        {
            WriteFile(directory, $"data/shard-{i:D3}.bin", RandomBytes(random, (int)shardBytes));
        }

        long remaining = totalBytes - (shardBytes * Shards);
        for (int i = 0; remaining > 0; i++)
        {
            int size = (int)Math.Min(remaining, 4096 << random.Next(0, 7));
            WriteFile(directory, SmallFileName(i), SmallFileContent(random, i, size));
            remaining -= size;
        }

        // Like a dataset that has been around a while (and like gen_versions.py's fixed times):
        // files older than the stat cache's racy window, so unchanged ones are not read again.
        var past = DateTime.UtcNow.AddHours(-1);
        foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, past);
        }
    }

    /// <summary>Applies the v2 edits to a copy of v1 in place; returns the bytes that are new in v2.</summary>
    public long ApplyV2Edits(string directory)
    {
        var random = new Random(seed + 1);
        long newBytes = 0;
        foreach (string shard in Directory.GetFiles(Path.Combine(directory, "data"), "shard-*.bin").Order(StringComparer.Ordinal))
        {
            var bytes = new List<byte>(File.ReadAllBytes(shard));
            for (int edit = 0; edit < 4; edit++)
            {
                byte[] fresh = RandomBytes(random, random.Next(1024, 64 * 1024));
                int at = random.Next(0, bytes.Count - fresh.Length);
                if (edit % 2 == 0)
                {
                    bytes.InsertRange(at, fresh);
                }
                else
                {
                    for (int i = 0; i < fresh.Length; i++)
                    {
                        bytes[at + i] = fresh[i];
                    }
                }

                newBytes += fresh.Length;
            }

            File.WriteAllBytes(shard, [.. bytes]);
        }

        var small = Directory.GetFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("shard-", StringComparison.Ordinal) && !f.Contains(Path.DirectorySeparatorChar + ".merklesync" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        for (int i = 0; i < small.Count; i++)
        {
            switch (random.Next(0, 100))
            {
                case < 3:
                    var content = new List<byte>(File.ReadAllBytes(small[i]));
                    byte[] inserted = Encoding.UTF8.GetBytes(Text(random, random.Next(200, 2000)));
                    content.InsertRange(random.Next(0, content.Count), inserted);
                    File.WriteAllBytes(small[i], [.. content]);
                    newBytes += inserted.Length;
                    break;
                case < 4:
                    File.Delete(small[i]);
                    break;
                case < 5:
                    byte[] added = SmallFileContent(random, i, random.Next(4096, 65536));
                    WriteFile(directory, $"added/new-{i:D4}.txt", added);
                    newBytes += added.Length;
                    break;
            }
        }

        string appended = small.First(File.Exists);
        byte[] tail = Encoding.UTF8.GetBytes(Text(random, 3000));
        File.AppendAllText(appended, Encoding.UTF8.GetString(tail));
        newBytes += tail.Length;
        string renamed = small.Last(File.Exists);
        File.Move(renamed, renamed + ".renamed");
        return newBytes;
    }

    private static string SmallFileName(int i) => (i % 4) switch
    {
        0 => $"tables/part-{i:D4}.csv",
        1 => $"text/doc-{i:D4}.txt",
        2 => $"records/batch-{i:D4}.jsonl",
        _ => $"blobs/{i % 7}/blob-{i:D4}.bin",
    };

    private static byte[] SmallFileContent(Random random, int i, int size) => (i % 4) switch
    {
        0 => Encoding.UTF8.GetBytes(Csv(random, size)),
        1 => Encoding.UTF8.GetBytes(Text(random, size)),
        2 => Encoding.UTF8.GetBytes(Jsonl(random, size)),
        _ => RandomBytes(random, size),
    };

    private static byte[] RandomBytes(Random random, int size)
    {
        byte[] bytes = new byte[size];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Text(Random random, int size)
    {
        var text = new StringBuilder(size + 16);
        while (text.Length < size)
        {
            text.Append(Words[random.Next(Words.Length)]).Append(random.Next(12) == 0 ? ".\n" : " ");
        }

        return text.ToString(0, size);
    }

    private static string Csv(Random random, int size)
    {
        var csv = new StringBuilder("id,label,score,weight\n", size + 64);
        for (int row = 0; csv.Length < size; row++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{row},{Words[random.Next(Words.Length)]},{random.NextDouble():F6},{random.Next(1000)}\n");
        }

        return csv.ToString(0, size);
    }

    private static string Jsonl(Random random, int size)
    {
        var lines = new StringBuilder(size + 128);
        for (int row = 0; lines.Length < size; row++)
        {
            lines.Append(CultureInfo.InvariantCulture, $"{{\"id\":{row},\"text\":\"{Text(random, 40)}\",\"label\":{random.Next(10)}}}\n");
        }

        return lines.ToString(0, size);
    }

    private static void WriteFile(string root, string relative, byte[] content)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }
}
