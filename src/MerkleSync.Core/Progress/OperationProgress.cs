namespace MerkleSync.Core.Progress;

/// <summary>The steps of a push or pull, in the order they run, and of a verification or repair.</summary>
public enum Stage
{
    Starting,
    Scanning,
    Hashing,
    Negotiating,
    Uploading,
    Publishing,
    Planning,
    Downloading,
    Replacing,

    /// <summary>Checking versions from their data; bytes "to read" are those of the packs to read, when known in advance.</summary>
    Verifying,

    /// <summary>Checking (and salvaging) packs where they are stored, counted as items.</summary>
    Repairing,
    Done,
}

/// <summary>
/// Counters a push or pull updates as it works and a display reads whenever it redraws (lock-free,
/// safe from any thread). Totals count only the work that will really be done, so a rate and an
/// ETA computed from them stay honest under deduplication: files the stat cache vouches for are not
/// "to read", and chunks the other side already has are not "to transfer".
/// </summary>
public sealed class OperationProgress
{
    private int _stage;
    private long _files;
    private long _bytes;
    private long _bytesToRead;
    private long _bytesRead;
    private long _bytesToTransfer;
    private long _bytesTransferred;
    private long _bytesDeduplicated;
    private long _bytesSettled;
    private long _itemsToDo;
    private long _itemsDone;

    public Stage Stage => (Stage)Volatile.Read(ref _stage);

    /// <summary>Files and bytes in the dataset (or the version being pulled).</summary>
    public long Files => Interlocked.Read(ref _files);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of changed or new files that must be read and hashed, and how many have been.</summary>
    public long BytesToRead => Interlocked.Read(ref _bytesToRead);

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Raw chunk bytes to upload (push) or to place into files (pull), and how many are done.</summary>
    public long BytesToTransfer => Interlocked.Read(ref _bytesToTransfer);

    public long BytesTransferred => Interlocked.Read(ref _bytesTransferred);

    /// <summary>Bytes not transferred because the other side already had them.</summary>
    public long BytesDeduplicated => Interlocked.Read(ref _bytesDeduplicated);

    /// <summary>Raised on the operation's thread as each stage begins, after its totals are set.</summary>
    public event Action<Stage>? StageEntered;

    /// <summary>Moves to <paramref name="stage"/>; entering the stage the operation is in already changes nothing.</summary>
    public void Enter(Stage stage)
    {
        if (Interlocked.Exchange(ref _stage, (int)stage) != (int)stage)
        {
            StageEntered?.Invoke(stage);
        }
    }

    public void SetDataset(long files, long bytes)
    {
        Interlocked.Exchange(ref _files, files);
        Interlocked.Exchange(ref _bytes, bytes);
    }

    public void SetToRead(long bytes) => Interlocked.Exchange(ref _bytesToRead, bytes);

    /// <summary>
    /// Raised on the reading thread after each read of a file being hashed, with the bytes read so
    /// far; the reader waits for the handler (a test holds hashing at a known point this way).
    /// </summary>
    public event Action<long>? Read;

    public void AddRead(long bytes)
    {
        long total = Interlocked.Add(ref _bytesRead, bytes);
        Read?.Invoke(total);
    }

    public void SetToTransfer(long bytes, long deduplicated)
    {
        Interlocked.Exchange(ref _bytesToTransfer, bytes);
        Interlocked.Exchange(ref _bytesDeduplicated, deduplicated);
    }

    /// <summary>
    /// Adds bytes to transfer, for work that comes in rounds (a push uploads while it still hashes):
    /// <paramref name="settled"/> bytes of the dataset were compared with the other side in this
    /// round, and what of them is not to transfer counts as deduplicated. Bytes not yet compared
    /// count as neither.
    /// </summary>
    public void AddToTransfer(long bytes, long settled)
    {
        long toTransfer = Interlocked.Add(ref _bytesToTransfer, bytes);
        long settledSoFar = Interlocked.Add(ref _bytesSettled, settled);
        Interlocked.Exchange(ref _bytesDeduplicated, Math.Max(0, Math.Min(settledSoFar, Bytes) - toTransfer));
    }

    public void AddTransferred(long bytes) => Interlocked.Add(ref _bytesTransferred, bytes);

    /// <summary>Things counted one by one where their bytes are not known (the packs a repair checks), and how many are done.</summary>
    public long ItemsToDo => Interlocked.Read(ref _itemsToDo);

    public long ItemsDone => Interlocked.Read(ref _itemsDone);

    public void SetItemsToDo(long items) => Interlocked.Exchange(ref _itemsToDo, items);

    public void AddItemDone() => Interlocked.Increment(ref _itemsDone);
}
