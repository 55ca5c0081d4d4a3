using System.Text;
using System.Text.RegularExpressions;
using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Ingest;

/// <summary>
/// The paths a dataset's snapshots leave out, from <c>.merklesyncignore</c> at its root, in
/// gitignore syntax: one pattern a line; <c>#</c> comments; <c>!</c> takes a path back in; a
/// trailing <c>/</c> matches folders only; a pattern with a <c>/</c> elsewhere is anchored at the
/// root, one without matches a name at any depth; <c>*</c>, <c>?</c> and <c>[a-z]</c> stay within
/// a name, <c>**</c> spans folders; <c>\</c> escapes. The last pattern that matches decides. A
/// folder left out is not descended into, so nothing inside it can be taken back in (as in git).
/// </summary>
public sealed class IgnoreRules
{
    public const string FileName = ".merklesyncignore";

    private readonly Rule[] _rules;

    private IgnoreRules(Rule[] rules) => _rules = rules;

    /// <summary>The rules of <paramref name="root"/>'s ignore file, or null when it has none.</summary>
    public static IgnoreRules? Load(string root)
    {
        string path = Path.Combine(root, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return Parse(File.ReadLines(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"Cannot read '{path}': {e.Message}", e);
        }
    }

    /// <summary>Rules from the lines of an ignore file (<paramref name="source"/> names it in errors).</summary>
    public static IgnoreRules Parse(IEnumerable<string> lines, string source = FileName)
    {
        var rules = new List<Rule>();
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            if (ParseLine(raw) is not var (pattern, negated, directoryOnly))
            {
                continue;
            }

            try
            {
                rules.Add(Rule.Create(pattern, negated, directoryOnly));
            }
            catch (ArgumentException e)
            {
                throw new InvalidInputException($"{source}, line {number}: '{raw}' is not a valid pattern ({e.Message}).", e);
            }
        }

        return new IgnoreRules([.. rules]);
    }

    /// <summary>Whether the dataset path <paramref name="path"/> ('/'-separated, relative to the root) is left out.</summary>
    public bool IsIgnored(string path, bool isDirectory)
    {
        int slash = path.LastIndexOf('/');
        var name = path.AsSpan(slash + 1);
        for (int i = _rules.Length - 1; i >= 0; i--)
        {
            var rule = _rules[i];
            if ((!rule.DirectoryOnly || isDirectory) && rule.Matches(path, name))
            {
                return !rule.Negated;
            }
        }

        return false;
    }

    /// <summary>Whether a scan leaves out the folder <paramref name="path"/>: it is excluded, or a folder above it is.</summary>
    public bool ExcludesFolder(string path) => IsIgnored(path, isDirectory: true) || Excludes(path);

    /// <summary>Whether a scan leaves out the file <paramref name="path"/>: it is excluded, or a folder above it is.</summary>
    public bool Excludes(string path)
    {
        for (int slash = path.IndexOf('/'); slash >= 0; slash = path.IndexOf('/', slash + 1))
        {
            if (IsIgnored(path[..slash], isDirectory: true))
            {
                return true;
            }
        }

        return IsIgnored(path, isDirectory: false);
    }

    // The pattern of one line without its markers; null for blank lines and comments.
    private static (string Pattern, bool Negated, bool DirectoryOnly)? ParseLine(string line)
    {
        string text = TrimUnescapedTrailingSpaces(line);
        if (text.Length == 0 || text[0] == '#')
        {
            return null;
        }

        bool negated = text[0] == '!';
        if (negated)
        {
            text = text[1..];
        }

        bool directoryOnly = text.EndsWith('/') && !text.EndsWith("\\/", StringComparison.Ordinal);
        text = text.TrimEnd('/');
        return text.Length == 0 ? null : (text, negated, directoryOnly);
    }

    private static string TrimUnescapedTrailingSpaces(string line)
    {
        int end = line.Length;
        while (end > 0 && line[end - 1] is ' ' or '\t' or '\r' && !(end > 1 && line[end - 2] == '\\'))
        {
            end--;
        }

        return line[..end];
    }

    /// <summary>One pattern: a name or path glob, with fast paths for a plain name and for <c>*suffix</c>.</summary>
    private sealed class Rule
    {
        private static readonly char[] Wildcards = ['*', '?', '[', '\\'];
        private readonly string? _name;
        private readonly string? _suffix;
        private readonly Regex? _glob;
        private readonly bool _anchored;

        private Rule(string pattern, bool negated, bool directoryOnly)
        {
            (Negated, DirectoryOnly) = (negated, directoryOnly);
            if (pattern.Length > 1 && pattern[0] == '\\' && pattern[1] is '#' or '!')
            {
                pattern = pattern[1..];
            }

            _anchored = pattern.Contains('/');
            pattern = pattern.TrimStart('/');
            if (!_anchored && pattern.IndexOfAny(Wildcards) < 0)
            {
                _name = pattern;
            }
            else if (!_anchored && pattern[0] == '*' && pattern.IndexOfAny(Wildcards, 1) < 0)
            {
                _suffix = pattern[1..];
            }
            else
            {
                _glob = new Regex(ToRegex(pattern), RegexOptions.CultureInvariant | RegexOptions.Singleline);
            }
        }

        public bool Negated { get; }

        public bool DirectoryOnly { get; }

        public static Rule Create(string pattern, bool negated, bool directoryOnly) => new(pattern, negated, directoryOnly);

        public bool Matches(string path, ReadOnlySpan<char> name) =>
            _name is not null ? name.SequenceEqual(_name)
            : _suffix is not null ? name.EndsWith(_suffix, StringComparison.Ordinal)
            : _anchored ? _glob!.IsMatch(path)
            : _glob!.IsMatch(name);

        // gitignore glob to an anchored regex: '*' and '?' stay within a name, '**' crosses '/'.
        private static string ToRegex(string glob)
        {
            var regex = new StringBuilder("^");
            for (int i = 0; i < glob.Length; i++)
            {
                char c = glob[i];
                switch (c)
                {
                    case '*' when i + 1 < glob.Length && glob[i + 1] == '*':
                        bool startsName = i == 0 || glob[i - 1] == '/';
                        bool endsName = i + 2 == glob.Length || glob[i + 2] == '/';
                        if (!startsName || !endsName)
                        {
                            regex.Append("[^/]*"); // '**' inside a name is a plain '*'
                            i++;
                        }
                        else if (i + 2 == glob.Length)
                        {
                            regex.Append(".*"); // 'a/**': everything inside a
                            i++;
                        }
                        else
                        {
                            regex.Append("(?:.*/)?"); // '**/': zero or more folders
                            i += 2;
                        }

                        break;
                    case '*':
                        regex.Append("[^/]*");
                        break;
                    case '?':
                        regex.Append("[^/]");
                        break;
                    case '[':
                        i = AppendClass(glob, i, regex);
                        break;
                    case '\\':
                        if (++i == glob.Length)
                        {
                            throw new ArgumentException("it ends with a lone '\\'");
                        }

                        regex.Append(Regex.Escape(glob[i].ToString()));
                        break;
                    default:
                        regex.Append(Regex.Escape(c.ToString()));
                        break;
                }
            }

            return regex.Append('$').ToString();
        }

        // A bracket expression from glob[start] ('['); returns the index of its ']'.
        private static int AppendClass(string glob, int start, StringBuilder regex)
        {
            int i = start + 1;
            var set = new StringBuilder("[");
            if (i < glob.Length && glob[i] is '!' or '^')
            {
                set.Append("^/"); // a class never matches the separator
                i++;
            }

            for (bool first = true; i < glob.Length && (glob[i] != ']' || first); i++, first = false)
            {
                char c = glob[i] == '\\' && i + 1 < glob.Length ? glob[++i] : glob[i];
                set.Append(c is '\\' or '[' or '^' ? "\\" + c : c.ToString());
            }

            if (i == glob.Length)
            {
                throw new ArgumentException("a '[' is not closed by ']'");
            }

            regex.Append(set).Append(']');
            return i;
        }
    }
}
