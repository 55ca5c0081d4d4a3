using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary>What <c>branch</c> and <c>tag</c> print: a listing line per name, and a change to one.</summary>
internal static class RefOutput
{
    /// <param name="kind">"branch" or "tag": the JSON field that holds the name.</param>
    public static JsonObject Describe(string kind, string name, VersionRef version)
    {
        var json = CommonOptions.VersionJson(version);
        json.Insert(0, kind, name);
        return json;
    }

    public static void List(string kind, IReadOnlyList<(string Name, VersionRef Version)> refs, bool json)
    {
        if (json)
        {
            JsonOut.Write(new JsonArray([.. refs.Select(r => (JsonNode)Describe(kind, r.Name, r.Version))]));
            return;
        }

        foreach (var (name, version) in refs)
        {
            var r = version.Record;
            Console.Out.WriteLine($"{name,-20} {r.Root.ToString()[..12]}  {r.Time.UtcDateTime:yyyy-MM-dd HH:mm} UTC  {r.Author}  {Format.Bytes(r.Bytes)}  {Format.FirstLine(r.Message)}");
        }
    }

    /// <summary>What to tell of a version a branch or tag no longer names: gc keeps its history for the grace period.</summary>
    public static string Left(string kind, IRemote remote, string name, Hash record) =>
        $"A gc keeps what it reached for its grace period (1 hour by default); until then `{RestoreCommand(kind, remote, name, record)}` brings it back.";

    /// <summary>The command that points the branch or tag <paramref name="name"/> at <paramref name="record"/> again.</summary>
    public static string RestoreCommand(string kind, IRemote remote, string name, Hash record) => $"merklesync {kind} {remote.Url} {name} {record}";

    public static void Report(bool json, string kind, string name, string action, VersionRef version, string text)
    {
        if (json)
        {
            var result = Describe(kind, name, version);
            result.Insert(1, "action", action);
            JsonOut.Write(result);
        }
        else
        {
            Console.Out.WriteLine(text);
        }
    }
}
