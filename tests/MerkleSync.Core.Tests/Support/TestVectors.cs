using System.Text;
using System.Text.Json;

namespace MerkleSync.Core.Tests.Support;

/// <summary>Loads the committed conformance vectors and rebuilds their inputs from recipes.</summary>
internal static class TestVectors
{
    private static readonly Lazy<JsonDocument> Oracle = new(() => Load("xetchunk-wasm.json"));
    private static readonly Lazy<JsonDocument> Golden = new(() => Load("xet-core-golden.json"));

    public static JsonElement OracleRoot => Oracle.Value.RootElement;
    public static JsonElement GoldenRoot => Golden.Value.RootElement;

    public static IEnumerable<JsonElement> OracleVectors => OracleRoot.GetProperty("vectors").EnumerateArray();

    public static JsonElement OracleVector(string name) => OracleVectors.Single(v => v.GetProperty("name").GetString() == name);

    public static IEnumerable<object[]> OracleVectorNames => OracleVectors.Select(v => new object[] { v.GetProperty("name").GetString()! });

    /// <summary>Rebuilds a vector's input exactly as tools/xet-vectors/generate.mjs does.</summary>
    public static byte[] BuildInput(JsonElement vector)
    {
        var recipe = vector.GetProperty("recipe");
        using var data = new MemoryStream();
        foreach (var segment in recipe.GetProperty("segments").EnumerateArray())
        {
            int length = segment.GetProperty("length").GetInt32();
            byte[] part = segment.GetProperty("kind").GetString() switch
            {
                "random" => SplitMix64.Bytes(segment.GetProperty("seed").GetUInt64(), length),
                "text" => Text(segment.GetProperty("seed").GetUInt64(), length),
                "fill" => Enumerable.Repeat((byte)segment.GetProperty("value").GetInt32(), length).ToArray(),
                var kind => throw new InvalidDataException($"unknown segment kind {kind}"),
            };
            data.Write(part);
        }

        byte[] bytes = data.ToArray();
        foreach (var patch in recipe.GetProperty("patches").EnumerateArray())
        {
            bytes[patch.GetProperty("offset").GetInt32()] = (byte)patch.GetProperty("value").GetInt32();
        }

        return bytes;
    }

    private static byte[] Text(ulong seed, int length)
    {
        string[] words = [.. OracleRoot.GetProperty("text_words").EnumerateArray().Select(w => w.GetString()!)];
        byte[] picks = SplitMix64.Bytes(seed, length);
        var text = new StringBuilder(length + 16);
        for (int i = 0, word = 0; text.Length < length; i++)
        {
            text.Append(words[picks[i % length] % words.Length]);
            text.Append(++word % 12 == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }

    private static JsonDocument Load(string file) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestVectors", file)));
}
