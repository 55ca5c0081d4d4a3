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
}
