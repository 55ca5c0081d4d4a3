using System.Globalization;

namespace MerkleSync.Cli.Output;

internal static class Format
{
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:F1} {units[unit]}");
    }

    public static string Rate(long bytes, TimeSpan elapsed) =>
        elapsed.TotalSeconds <= 0 ? "-" : Bytes((long)(bytes / elapsed.TotalSeconds)) + "/s";

    /// <summary>A version message's first line, for one-line listings.</summary>
    public static string FirstLine(string message) => message.Split('\n', 2)[0];

    public static string Ratio(double value) => value.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>
    /// A dataset path for a line of text output. A file name may hold any character but '/' and
    /// NUL, so a path with a line break, a control character, '"' or '\\' is quoted with C escapes,
    /// as git does; others print as they are. <c>--json</c> output has the exact path.
    /// </summary>
    public static string Path(string path)
    {
        if (!path.Any(NeedsEscape))
        {
            return path;
        }

        var quoted = new System.Text.StringBuilder(path.Length + 8).Append('"');
        foreach (char c in path)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when char.IsControl(c) => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => c.ToString(),
            });
        }

        return quoted.Append('"').ToString();
    }

    private static bool NeedsEscape(char c) => char.IsControl(c) || c is '"' or '\\';
}
