using System.Globalization;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;

namespace MerkleSync.Core.Verification;

/// <summary>
/// Which packs a verification reads, as <c>restic check --read-data-subset</c> does: none, all,
/// group n of t (a pack's group is its id's first 16 hex digits as a number, modulo t, plus one, so
/// groups 1/t to t/t read every pack once between them), or a random share (a new draw each run).
/// </summary>
public sealed class PackSubset
{
    private readonly Func<Hash, bool> _includes;

    private PackSubset(string description, Func<Hash, bool> includes)
    {
        Description = description;
        _includes = includes;
    }

    public static PackSubset None { get; } = new("none", static _ => false);

    public static PackSubset All { get; } = new("all", static _ => true);

    /// <summary>"all", "n/t" or "P%" as a user wrote it.</summary>
    public string Description { get; }

    public bool IsNone => ReferenceEquals(this, None);

    public bool Includes(Hash packId) => _includes(packId);

    /// <summary>Parses "n/t" (1 ≤ n ≤ t) or "P%" (0 &lt; P ≤ 100).</summary>
    public static PackSubset Parse(string text)
    {
        const string Expected = "expected n/t (group n of t, e.g. 2/7) or a percentage (e.g. 10%)";
        text = text.Trim();
        if (text.EndsWith('%'))
        {
            if (!double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double percent) || percent <= 0 || percent > 100)
            {
                throw new InvalidInputException($"Subset '{text}': the percentage must be above 0 and at most 100; {Expected}.");
            }

            if (percent == 100)
            {
                return new PackSubset(text, static _ => true);
            }

            // A fresh salt mixed with the id draws a new subset each run. XOR alone would keep neighbouring
            // ids together (the same few leading bits), so two runs' subsets would be the same or disjoint.
            ulong salt = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
            ulong below = (ulong)(percent / 100 * Math.Pow(2, 64));
            return new PackSubset(text, id => Mix(id.FirstWord ^ salt) < below);
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0
            || !uint.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out uint n)
            || !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint t))
        {
            throw new InvalidInputException($"Subset '{text}': {Expected}.");
        }

        if (t == 0 || n == 0 || n > t)
        {
            throw new InvalidInputException($"Subset '{text}': n must be from 1 to t; {Expected}.");
        }

        return new PackSubset(text, id => id.FirstWord % t == n - 1);
    }

    /// <summary>SplitMix64's finalizer: a bijection on 64-bit words whose every output bit depends on every input bit.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
