using System.Diagnostics;

namespace MerkleSync.Cli.Tests;

/// <summary>Collects a process's output lines as they come.</summary>
internal sealed class ServerOutput : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    public ServerOutput(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public async Task<string> WaitForLineAsync(string text, string hint = "")
    {
        for (int i = 0; i < 600; i++)
        {
            if (Lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"No line with '{text}' from the server{hint}. Output:\n{string.Join('\n', Lines)}");
    }

    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public void Dispose() => _process.Dispose();

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        }
    }
}
