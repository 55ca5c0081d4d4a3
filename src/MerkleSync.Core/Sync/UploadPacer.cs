namespace MerkleSync.Core.Sync;

/// <summary>
/// Pack size and packs in flight for a push, adapted to how the transfer goes (AIMD, as in TCP):
/// after each pack the server took without asking to slow down, one more pack may be in flight and
/// packs may double in size, up to the limits; after a 429 or 503, both are halved.
/// </summary>
internal sealed class UploadPacer(long maxPackSize)
{
    public const int MaxInFlight = 4;
    private const long MinPackSize = 8L << 20;

    private readonly long _smallestPack = Math.Min(MinPackSize, maxPackSize);
    private long _throttlesSeen;

    public int InFlight { get; private set; } = 2;

    /// <summary>Starts at a quarter of the maximum (no smaller than 8 MiB unless the maximum is).</summary>
    public long PackSize { get; private set; } = Math.Max(Math.Min(MinPackSize, maxPackSize), maxPackSize / 4);

    public int Backoffs { get; private set; }

    public void OnPackCompleted(long throttlesSoFar)
    {
        if (throttlesSoFar > _throttlesSeen)
        {
            _throttlesSeen = throttlesSoFar;
            InFlight = Math.Max(1, InFlight / 2);
            PackSize = Math.Max(_smallestPack, PackSize / 2);
            Backoffs++;
        }
        else
        {
            InFlight = Math.Min(MaxInFlight, InFlight + 1);
            PackSize = Math.Min(maxPackSize, PackSize * 2);
        }
    }
}
