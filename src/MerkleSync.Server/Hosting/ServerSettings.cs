using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;

namespace MerkleSync.Server.Hosting;

/// <summary>How a server is started: where datasets live, where it listens, who may use it.</summary>
/// <param name="Quiet">Log warnings and errors only (an embedded server, as in <c>merklesync demo</c>).</param>
/// <param name="PackStore">Where datasets created from now on keep their packs (S3), each under its name; null: files under the root.</param>
/// <param name="LogFormat">How log lines (the access log among them) are written to stderr.</param>
public sealed record ServerSettings(
    string Root, IReadOnlyList<string> Listen, string? TokensFile, string? TlsCertFile = null, string? TlsKeyFile = null, bool Quiet = false, S3Location? PackStore = null,
    LogFormat LogFormat = LogFormat.Text)
{
    public const string DefaultListen = "http://127.0.0.1:8470";

    public static ServerSettings FromArgs(string[] args)
    {
        string? root = null, tokens = null, cert = null, key = null, packStore = null;
        var logFormat = LogFormat.Text;
        var listen = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new InvalidInputException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--root": root = Next(); break;
                case "--listen": listen.Add(Next()); break;
                case "--tokens": tokens = Next(); break;
                case "--tls-cert": cert = Next(); break;
                case "--tls-key": key = Next(); break;
                case "--pack-store": packStore = Next(); break;
                case "--log-format": logFormat = ParseLogFormat(Next()); break;
                default: throw new InvalidInputException($"Unknown argument '{args[i]}'. Usage: --root DIR [--listen URL] [--tokens FILE] [--tls-cert PEM --tls-key PEM] [--pack-store S3URL] [--log-format text|json]");
            }
        }

        return new ServerSettings(root ?? throw new InvalidInputException("--root DIR is required."), listen.Count > 0 ? listen : [DefaultListen], tokens, cert, key, PackStore: packStore is null ? null : S3Location.Parse(packStore), LogFormat: logFormat);
    }

    public static LogFormat ParseLogFormat(string value) => value switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new InvalidInputException($"'{value}' is not a log format; use text or json."),
    };
}

/// <summary>How the server writes its log lines to stderr; both carry a UTC timestamp.</summary>
public enum LogFormat
{
    /// <summary>One line of text per entry: timestamp, level, category, message.</summary>
    Text,

    /// <summary>One JSON object per line, with the message's fields (user, method, path, bytes, status, ms) apart: for log collectors.</summary>
    Json,
}
