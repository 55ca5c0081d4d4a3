using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MerkleSync.Cli.Tests;

/// <summary>Ctrl-C (SIGINT) and SIGTERM stop a command at once, say so, and exit as shells expect (128 + signal).</summary>
public class InterruptTests
{
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public async Task A_push_waiting_on_a_server_that_never_answers_stops_on_a_signal_with_its_exit_code(string signal, int exitCode)
    {
        using var dir = new TempDirectory();
        dir.Write("data/a.bin", new byte[100_000]);
        // A server that takes the connection and never answers: the push waits on it until stopped.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            for (int i = 0; i < 16; i++)
            {
                held.Add(await silent.AcceptTcpClientAsync());
            }
        });

        using var push = CliRunner.Start("push", Path.Combine(dir.Path, "data"), $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/ds");
        var stderr = push.StandardError.ReadToEndAsync();
        while (held.Count == 0 && !push.HasExited)
        {
            await Task.Delay(50); // bounded by the test's own timeout below: the push connects within seconds
            Assert.True(push.StartTime.AddSeconds(60) > DateTime.Now, "the push never connected");
        }

        await Task.Delay(300); // into the wait for the answer
        var stopwatch = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-" + signal, push.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await push.WaitForExitAsync(bound.Token);

        Assert.True(exitCode == push.ExitCode, $"exit code {push.ExitCode}: {await stderr}");
        Assert.Contains("merklesync: interrupted; run the command again to go on.", await stderr, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed} to stop");
        silent.Stop();
        foreach (var client in held)
        {
            client.Dispose();
        }

        await accepting.ContinueWith(_ => { }, TaskScheduler.Default);
    }
}
