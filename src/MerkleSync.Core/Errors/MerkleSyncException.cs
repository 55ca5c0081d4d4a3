namespace MerkleSync.Core.Errors;

/// <summary>
/// Base of the errors MerkleSync reports to users. Each kind maps to one CLI exit code, so a script
/// can tell a bad argument from corrupt data or a lost race.
/// </summary>
public abstract class MerkleSyncException : Exception
{
    protected MerkleSyncException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>The user asked for something invalid: a bad path, option or argument.</summary>
public sealed class InvalidInputException(string message, Exception? inner = null) : MerkleSyncException(message, inner);

/// <summary>Stored or received data failed a hash, length or format check.</summary>
public sealed class CorruptDataException(string message, Exception? inner = null) : MerkleSyncException(message, inner);

/// <summary>A version, node, chunk or ref that was asked for does not exist.</summary>
public sealed class NotFoundException(string message, Exception? inner = null) : MerkleSyncException(message, inner);

/// <summary>Someone else moved a ref first (compare-and-swap lost).</summary>
public sealed class ConflictException(string message, Exception? inner = null) : MerkleSyncException(message, inner);

/// <summary>
/// The store that holds the packs (S3) cannot be used now: unreachable, failing, or refusing the
/// credentials. Nothing was published; the operation can be run again once the store is back.
/// </summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : MerkleSyncException(message, inner);

/// <summary>The storage a write went to is full (ENOSPC, EDQUOT): nothing was committed, and retrying before space is freed is pointless.</summary>
public sealed class OutOfSpaceException(string message, Exception? inner = null) : MerkleSyncException(message, inner)
{
    private const int NoSpaceLeft = 28, QuotaExceeded = 122; // Linux errno values, which .NET puts in IOException.HResult on Unix

    /// <summary>Whether <paramref name="e"/> (or what it wraps) is a write that found its file system or quota full.</summary>
    public static bool IsCause(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is IOException { HResult: NoSpaceLeft or QuotaExceeded }
                || current.Message.Contains("No space left on device", StringComparison.Ordinal)
                || current.Message.Contains("Disk quota exceeded", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
