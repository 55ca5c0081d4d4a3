using System.Globalization;
using MerkleSync.Core.Errors;

namespace MerkleSync.Cli.Output;

/// <summary>Parses sizes such as 64MiB, 1GiB, 500MB or a plain byte count.</summary>
internal static class ByteSize
{
    public static long Parse(string text)
    {
        string trimmed = text.Trim();
        int split = trimmed.Length;
        while (split > 0 && !char.IsAsciiDigit(trimmed[split - 1]))
        {
            split--;
        }

        long multiplier = trimmed[split..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KIB" => 1L << 10,
            "KB" => 1000,
            "M" or "MIB" => 1L << 20,
            "MB" => 1_000_000,
            "G" or "GIB" => 1L << 30,
            "GB" => 1_000_000_000,
            _ => throw new InvalidInputException($"'{text}' is not a size; use e.g. 64MiB, 1GiB or 500MB."),
        };

        return long.TryParse(trimmed[..split], NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0
            ? checked(value * multiplier)
            : throw new InvalidInputException($"'{text}' is not a size; use e.g. 64MiB, 1GiB or 500MB.");
    }
}
