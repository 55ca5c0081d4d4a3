using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MerkleSync.Core.Errors;

namespace MerkleSync.Server.Security;

public enum Access
{
    None = 0,
    Read = 1,
    Write = 2,
}

/// <summary>
/// Bearer tokens from a JSON file:
/// <c>{"tokens": [{"name": "alice", "token": "…", "datasets": {"*": "read", "imagenet": "write"}}]}</c>.
/// A dataset's own entry wins over "*". Tokens are compared in constant time and never logged.
/// </summary>
public sealed class TokenStore
{
    private readonly List<(byte[] Token, string Name, Dictionary<string, Access> Datasets)> _tokens;

    private TokenStore(List<(byte[] Token, string Name, Dictionary<string, Access> Datasets)> tokens) => _tokens = tokens;

    public static TokenStore Load(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var tokens = new List<(byte[] Token, string Name, Dictionary<string, Access> Datasets)>();
            foreach (var entry in document.RootElement.GetProperty("tokens").EnumerateArray())
            {
                string token = entry.GetProperty("token").GetString() ?? "";
                if (token.Length < 16)
                {
                    throw new InvalidInputException($"Token '{entry.GetProperty("name").GetString()}' in {path} is shorter than 16 characters.");
                }

                var datasets = entry.GetProperty("datasets").EnumerateObject().ToDictionary(
                    p => p.Name,
                    p => p.Value.GetString() switch
                    {
                        "read" => Access.Read,
                        "write" => Access.Write,
                        var other => throw new InvalidInputException($"Scope '{other}' in {path} must be 'read' or 'write'."),
                    },
                    StringComparer.Ordinal);
                byte[] secret = Encoding.UTF8.GetBytes(token);
                string name = entry.GetProperty("name").GetString() ?? "?";
                if (tokens.FirstOrDefault(t => t.Token.AsSpan().SequenceEqual(secret)) is { Name: { } same })
                {
                    // Which name and scopes would a request carry? Neither answer is safe to guess.
                    throw new InvalidInputException($"Tokens '{same}' and '{name}' in {path} are the same; each token must be unique.");
                }

                tokens.Add((secret, name, datasets));
            }

            return new TokenStore(tokens);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            throw new InvalidInputException($"Cannot read the token file {path}: {e.Message}", e);
        }
    }

    /// <summary>Who presents <paramref name="token"/> and what they may do to <paramref name="dataset"/>; null if the token is unknown.</summary>
    public (string Name, Access Access)? Authenticate(string token, string dataset)
    {
        byte[] presented = Encoding.UTF8.GetBytes(token);
        foreach (var (known, name, datasets) in _tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(known, presented))
            {
                var access = datasets.TryGetValue(dataset, out var own) ? own : datasets.GetValueOrDefault("*", Access.None);
                return (name, access);
            }
        }

        return null;
    }
}
