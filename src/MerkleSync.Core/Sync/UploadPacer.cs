namespace MerkleSync.Core.Sync;

/// <summary>
/// Pack size and packs in flight for a push, adapted to how the transfer goes (AIMD, as in TCP):
/// after each pack the server took without asking to slow down, one more pack may be in flight and
/// packs may double in size, up to the limits; after a 429 or 503, both are halved. One per push,
/// shared by its upload rounds and their lanes (safe from any thread), so what a round learned
/// carries into the next one instead of starting again from small packs.
/// </summary>
internal sealed class UploadPacer(long maxPackSize)
{
    public const int MaxInFlight = 4;
    private const long MinPackSize = 8L << 20;

    private readonly Lock _lock = new();
    private readonly long _smallestPack = Math.Min(MinPackSize, maxPackSize);
    private long _throttlesSeen;
    private int _inFlight = 2;
    private long _packSize = Math.Max(Math.Min(MinPackSize, maxPackSize), maxPackSize / 4); // a quarter of the maximum, at least 8 MiB unless the maximum is smaller
    private int _backoffs;

    public int InFlight => Volatile.Read(ref _inFlight);

    public long PackSize => Volatile.Read(ref _packSize);

    public int Backoffs => Volatile.Read(ref _backoffs);

    public void OnPackCompleted(long throttlesSoFar)
    {
        lock (_lock)
        {
            if (throttlesSoFar > _throttlesSeen)
            {
                _throttlesSeen = throttlesSoFar;
                _inFlight = Math.Max(1, _inFlight / 2);
                _packSize = Math.Max(_smallestPack, _packSize / 2);
                _backoffs++;
            }
            else
            {
                _inFlight = Math.Min(MaxInFlight, _inFlight + 1);
                _packSize = Math.Min(maxPackSize, _packSize * 2);
            }
        }
    }
}
