using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary>Arguments and output pieces several verbs share.</summary>
internal static class CommonOptions
{
    public static Argument<string> Remote() => new("REMOTE") { Description = "The repository: a URL (file:///srv/repos/ds, http://host:8470/ds) or a remote name (see 'merklesync remote')." };

    public static Option<string> Branch() => new("--branch", "-b") { Description = "Branch name.", DefaultValueFactory = _ => "main" };

    public static JsonObject VersionJson(VersionRef version) => new()
    {
        ["version"] = version.Record.Root.ToString(),
        ["record"] = version.Id.ToString(),
        ["parent"] = version.Record.Parent.IsZero ? null : version.Record.Parent.ToString(),
        ["time"] = version.Record.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        ["author"] = version.Record.Author,
        ["message"] = version.Record.Message,
        ["files"] = version.Record.Files,
        ["bytes"] = version.Record.Bytes,
        ["new_bytes"] = version.Record.NewBytes,
    };

    /// <summary>A repeatable <c>--path</c> option (<c>-p</c>) that selects files at or under each path.</summary>
    public static Option<string[]> Paths(string description) => new("--path", "-p") { Description = description, Arity = ArgumentArity.ZeroOrMore };

    public static void PrintVersion(VersionRef version)
    {
        var r = version.Record;
        Console.Out.WriteLine($"version {r.Root}");
        Console.Out.WriteLine($"record  {version.Id}{(r.Parent.IsZero ? "" : $"  (parent record {r.Parent.ToString()[..12]})")}");
        Console.Out.WriteLine($"date    {r.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC by {r.Author}");
        Console.Out.WriteLine($"size    {r.Files} files, {Format.Bytes(r.Bytes)}, {Format.Bytes(r.NewBytes)} new");
        if (r.Message.Length > 0)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine("    " + r.Message.Replace("\n", "\n    ", StringComparison.Ordinal));
        }
    }

    /// <summary>Opens the remote (a URL, or a name from <paramref name="datasetDirectory"/>'s remotes) for <paramref name="action"/>.</summary>
    public static async Task<T> WithRemoteAsync<T>(string remote, Func<IRemote, Task<T>> action, CancellationToken cancellationToken, string? datasetDirectory = null)
    {
        await using var opened = await RemoteUrl.OpenAsync(remote, datasetDirectory, cancellationToken);
        return await action(opened);
    }
}
