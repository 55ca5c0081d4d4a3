namespace MerkleSync.Core.Serialization;

/// <summary>Times stored or sent as Unix milliseconds, read without throwing on a value out of range.</summary>
internal static class UnixTime
{
    private static readonly long MaxMilliseconds = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>The time <paramref name="milliseconds"/> after the Unix epoch, or null if that is before it or past year 9999.</summary>
    public static DateTimeOffset? FromMilliseconds(long milliseconds) =>
        milliseconds >= 0 && milliseconds <= MaxMilliseconds ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) : null;
}
