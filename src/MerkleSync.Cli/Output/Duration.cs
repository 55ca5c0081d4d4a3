using System.Globalization;
using MerkleSync.Core.Errors;

namespace MerkleSync.Cli.Output;

/// <summary>Parses durations such as 30s, 15m, 2h, 7d.</summary>
internal static class Duration
{
    public static TimeSpan Parse(string text)
    {
        string t = text.Trim();
        if (t.Length >= 2 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0)
        {
            try
            {
                switch (t[^1])
                {
                    case 's': return TimeSpan.FromSeconds(value);
                    case 'm': return TimeSpan.FromMinutes(value);
                    case 'h': return TimeSpan.FromHours(value);
                    case 'd': return TimeSpan.FromDays(value);
                }
            }
            catch (OverflowException)
            {
                throw new InvalidInputException($"'{text}' is longer than a duration can be ({TimeSpan.MaxValue.Days} days).");
            }
        }

        throw new InvalidInputException($"'{text}' is not a duration; use e.g. 30s, 15m, 2h or 7d.");
    }
}
