namespace MerkleSync.Core.Ingest;

/// <summary>
/// A small file's bytes as its hashing read them, kept for its upload: packing them from here
/// saves opening, reading, checking and closing the file a second time, which for files of a few
/// KiB costs more than the bytes themselves. They are the bytes that were hashed, so no change of
/// the file since can get into the pack. <see cref="Release"/> gives their room back to the budget.
/// </summary>
public sealed class KeptBytes
{
    private readonly KeptBytesBudget _budget;
    private byte[]? _bytes;

    internal KeptBytes(byte[] bytes, KeptBytesBudget budget)
    {
        _bytes = bytes;
        _budget = budget;
    }

    /// <summary>The file's bytes, or null once released (the upload then reads the file).</summary>
    public byte[]? Bytes => Volatile.Read(ref _bytes);

    public void Release()
    {
        if (Interlocked.Exchange(ref _bytes, null) is { } bytes)
        {
            _budget.Return(bytes.Length);
        }
    }

    /// <summary>Releases what <paramref name="files"/> still keep (packed files released theirs already).</summary>
    public static void ReleaseAll(IEnumerable<SnapshotFile> files)
    {
        foreach (var file in files)
        {
            file.Kept?.Release();
        }
    }
}

/// <summary>How many bytes of small files a push keeps between hashing and packing at most.</summary>
public sealed class KeptBytesBudget(long limit)
{
    /// <summary>Larger files are read again: their calls cost little next to their bytes.</summary>
    public const int MaxFileBytes = 64 << 10;

    private long _used;

    /// <summary>A copy of <paramref name="bytes"/> if the file is small and the budget has room, else null.</summary>
    public KeptBytes? TryKeep(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxFileBytes || bytes.IsEmpty)
        {
            return null;
        }

        if (Interlocked.Add(ref _used, bytes.Length) > limit)
        {
            Interlocked.Add(ref _used, -bytes.Length);
            return null;
        }

        return new KeptBytes(bytes.ToArray(), this);
    }

    internal void Return(int length) => Interlocked.Add(ref _used, -length);
}
