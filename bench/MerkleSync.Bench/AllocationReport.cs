using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;

namespace MerkleSync.Core.Bench;

/// <summary>
/// Where a process allocates: sums the GC's allocation samples (one per ~100 KB) of an EventPipe
/// trace by type and by the managed frames that allocated. Record the trace with
/// <c>DOTNET_ReadyToRun=0 dotnet-trace collect --providers Microsoft-Windows-DotNETRuntime:0x1:5 -- merklesync push …</c>
/// (ReadyToRun off so that every frame has a name).
/// </summary>
internal static class AllocationReport
{
    private const int Frames = 6;
    private const int Rows = 25;

    public static void Print(string tracePath, bool largeOnly)
    {
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(tracePath));
        var byType = new Dictionary<string, long>(StringComparer.Ordinal);
        var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var sample in log.Events.Where(e => e.EventName == "GC/AllocationTick"))
        {
            if (largeOnly && Convert.ToInt32(sample.PayloadByName("AllocationKind"), CultureInfo.InvariantCulture) != 1)
            {
                continue;
            }

            string type = (string)sample.PayloadByName("TypeName");
            long bytes = Convert.ToInt64(sample.PayloadByName("AllocationAmount64") ?? sample.PayloadByName("AllocationAmount"), CultureInfo.InvariantCulture);
            var frames = new List<string>();
            for (var frame = sample.CallStack(); frame is not null && frames.Count < Frames; frame = frame.Caller)
            {
                if (frame.CodeAddress.FullMethodName is { Length: > 0 } name)
                {
                    frames.Add(name);
                }
            }

            Add(byType, type, bytes);
            Add(byStack, $"{type} <- {string.Join(" <- ", frames)}", bytes);
        }

        Print(byType);
        Console.WriteLine();
        Print(byStack);
    }

    private static void Add(Dictionary<string, long> totals, string key, long bytes) => totals[key] = totals.GetValueOrDefault(key) + bytes;

    private static void Print(Dictionary<string, long> totals)
    {
        foreach (var (key, bytes) in totals.OrderByDescending(t => t.Value).Take(Rows))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6,9:F1} MB  {key}"));
        }
    }
}
