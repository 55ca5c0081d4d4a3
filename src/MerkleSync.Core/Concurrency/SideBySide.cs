using System.Runtime.ExceptionServices;

namespace MerkleSync.Core.Concurrency;

/// <summary>
/// Work run side by side where the first failure stops the rest and is the error reported: the
/// others see <see cref="Token"/> cancelled, and the cancellations they then raise do not mask it.
/// </summary>
internal sealed class SideBySide(CancellationToken cancellationToken) : IDisposable
{
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    private Exception? _first;

    /// <summary>Cancelled by the caller's token or by the first failure.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>
    /// Records <paramref name="failure"/> if it is the first and stops the rest. Work that must stop
    /// the others before its own clean-up (a finally that waits for its uploads) calls this itself.
    /// </summary>
    public async Task FailAsync(Exception failure)
    {
        Interlocked.CompareExchange(ref _first, failure, null);
        await _stop.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="work"/>; its failure stops the rest.</summary>
    public async Task RunAsync(Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await FailAsync(e).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for all of <paramref name="tasks"/>; throws the first failure, unless the caller cancelled.</summary>
    public async Task WhenAllAsync(params Task[] tasks)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (_first is not null && !cancellationToken.IsCancellationRequested)
        {
            ExceptionDispatchInfo.Throw(_first);
        }
    }

    public void Dispose() => _stop.Dispose();
}
