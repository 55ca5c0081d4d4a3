using MerkleSync.Core.Concurrency;

namespace MerkleSync.Core.Tests.Concurrency;

public class SideBySideTests
{
    [Fact]
    public async Task The_first_failure_stops_the_others_and_is_the_error_thrown()
    {
        using var sideBySide = new SideBySide(CancellationToken.None);
        var waiting = new TaskCompletionSource();
        var stopped = sideBySide.RunAsync(async () =>
        {
            waiting.SetResult();
            await Task.Delay(Timeout.Infinite, sideBySide.Token); // ends only by cancellation
        });
        var failing = sideBySide.RunAsync(async () =>
        {
            await waiting.Task;
            throw new InvalidOperationException("the first failure");
        });

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => sideBySide.WhenAllAsync(stopped, failing).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("the first failure", thrown.Message);
        Assert.True(stopped.IsCanceled);
    }

    [Fact]
    public async Task Work_that_reports_its_failure_itself_stops_the_others_before_its_own_clean_up_ends()
    {
        using var sideBySide = new SideBySide(CancellationToken.None);
        var otherStopped = new TaskCompletionSource();
        var other = sideBySide.RunAsync(async () =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, sideBySide.Token);
            }
            finally
            {
                otherStopped.SetResult();
            }
        });
        var lane = Task.Run(async () =>
        {
            try
            {
                throw new IOException("disk full");
            }
            catch (Exception e)
            {
                await sideBySide.FailAsync(e);
                throw;
            }
            finally
            {
                await otherStopped.Task; // a clean-up that needs the others stopped first would hang otherwise
            }
        });

        await Assert.ThrowsAsync<IOException>(() => sideBySide.WhenAllAsync(other, lane).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task When_the_caller_cancels_the_cancellation_is_what_is_thrown()
    {
        using var caller = new CancellationTokenSource();
        using var sideBySide = new SideBySide(caller.Token);
        var work = sideBySide.RunAsync(() => Task.Delay(Timeout.Infinite, sideBySide.Token));

        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sideBySide.WhenAllAsync(work).WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
