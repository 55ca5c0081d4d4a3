using System.Text;
using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Tree;

/// <summary>
/// Paths inside a dataset: relative, '/'-separated, Unicode NFC, no empty, '.' or '..' segments,
/// no NUL. The same name typed on macOS (NFD) and Linux (NFC) is the same entry.
/// </summary>
public static class DatasetPath
{
    /// <summary>Longest accepted path in UTF-8 bytes; longer ones are almost surely a bug or an attack.</summary>
    public const int MaxUtf8Length = 4096;

    /// <summary>Returns the canonical form of <paramref name="path"/> or throws <see cref="InvalidInputException"/>.</summary>
    public static string Normalize(string path)
    {
        string? error = Validate(path, out string normalized);
        return error is null ? normalized : throw new InvalidInputException($"Invalid dataset path '{Printable(path)}': {error}.");
    }

    /// <summary>
    /// A path typed on a command line (ls, cat, pull --path), in canonical form: the empty and '.'
    /// segments that shells and habits add ("./data", "data/", "/data", "a//b") are dropped, so
    /// these name "data"; null for the dataset's root ("", ".", "/"). Otherwise as <see cref="Normalize"/>.
    /// </summary>
    public static string? FromArgument(string argument)
    {
        string path = string.Join('/', argument.Split('/').Where(segment => segment is not ("" or ".")));
        return path.Length == 0 ? null : Normalize(path);
    }

    /// <summary>
    /// Paths given as arguments (e.g. <c>--path</c>), canonical: what selects files at or under any
    /// of them. Empty, selecting everything, when one of them is the root ('.', '/').
    /// </summary>
    public static string[] FromArguments(IEnumerable<string> arguments)
    {
        string?[] given = [.. arguments.Select(FromArgument)];
        return given.Contains(null) ? [] : [.. given.OfType<string>()];
    }

    /// <summary>Returns null and the canonical form if <paramref name="path"/> is valid, else the reason.</summary>
    public static string? Validate(string path, out string normalized)
    {
        normalized = string.Empty;
        if (string.IsNullOrEmpty(path))
        {
            return "it is empty";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return "it contains a NUL character";
        }

        if (path[0] == '/' || (path.Length >= 2 && path[1] == ':' && char.IsAsciiLetter(path[0])))
        {
            return "it is absolute; paths are relative to the dataset root";
        }

        if (!path.IsNormalized(NormalizationForm.FormC))
        {
            try
            {
                path = path.Normalize(NormalizationForm.FormC);
            }
            catch (ArgumentException)
            {
                return "it is not valid Unicode";
            }
        }

        foreach (var range in path.AsSpan().Split('/'))
        {
            switch (path.AsSpan(range))
            {
                case "":
                    return "it has an empty segment (a leading, trailing or doubled '/')";
                case "." or "..":
                    return $"it has a '{path[range]}' segment";
            }
        }

        int byteCount;
        try
        {
            byteCount = Utf8.GetByteCount(path);
        }
        catch (ArgumentException)
        {
            return "it is not valid Unicode";
        }

        if (byteCount > MaxUtf8Length)
        {
            return $"it is {byteCount} bytes long; the limit is {MaxUtf8Length}";
        }

        normalized = path;
        return null;
    }

    /// <summary>Orders paths by their UTF-8 bytes (which is Unicode code point order), the canonical entry order.</summary>
    public static int Compare(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;

        int i = a.AsSpan().CommonPrefixLength(b); // vectorised: sorted paths share long prefixes
        return i == a.Length || i == b.Length ? a.Length - b.Length : CodePointOrderKey(a[i]) - CodePointOrderKey(b[i]);
    }

    /// <summary>The folders <paramref name="path"/> is in, nearest first ("a/b/c": "a/b", "a").</summary>
    public static IEnumerable<string> Ancestors(string path)
    {
        for (int slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            yield return path[..slash];
        }
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="prefix"/> itself or lies in the folder it names.</summary>
    public static bool IsAtOrUnder(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] == '/');

    /// <summary>The folder that holds a directory's client state (RocksDB, tokens); never part of a version.</summary>
    public const string StateFolderName = ".merklesync";

    /// <summary>
    /// Whether a segment of <paramref name="path"/> is <see cref="StateFolderName"/>: a client's state,
    /// which snapshots leave out at any depth, so a version that holds one (pushed before they did,
    /// or crafted) must not write it into a directory's state folder.
    /// </summary>
    public static bool IsInStateFolder(string path)
    {
        foreach (var range in path.AsSpan().Split('/'))
        {
            if (path.AsSpan(range).SequenceEqual(StateFolderName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A comparer for <see cref="Compare(string?, string?)"/>.</summary>
    public static IComparer<string> Comparer { get; } = Comparer<string>.Create(Compare);

    /// <summary>Strict UTF-8 (throws on lone surrogates instead of writing U+FFFD).</summary>
    internal static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // UTF-16 order puts surrogates (U+D800-DFFF) below U+E000-FFFF, but the code points they encode
    // are above. Lifting surrogates over that range gives code point order, as in ICU.
    private static int CodePointOrderKey(char c) => c >= 0xD800 ? (c >= 0xE000 ? c - 0x800 : c + 0x2000) : c;

    private static string Printable(string path) => path.Replace("\0", "\\0", StringComparison.Ordinal);
}
