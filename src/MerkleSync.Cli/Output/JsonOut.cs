using System.Text.Json;
using System.Text.Json.Nodes;

namespace MerkleSync.Cli.Output;

internal static class JsonOut
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static void Write(JsonNode node) => Console.Out.WriteLine(node.ToJsonString(Options));
}
