namespace MerkleSync.Core.Tests.Support;

/// <summary>A clock that says what the test sets, for records whose time a rule judges.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
