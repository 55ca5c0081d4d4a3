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
