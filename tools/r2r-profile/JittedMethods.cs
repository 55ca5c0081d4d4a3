using Microsoft.Diagnostics.Tracing;

namespace MerkleSync.R2RProfile;

/// <summary>A method as the runtime's events name it: its type with type arguments, its name, its signature.</summary>
internal sealed record JittedMethod(string Type, string Name, string Signature);

internal static class JittedMethods
{
    /// <summary>
    /// The methods compiled by the JIT in the traces (a method load that a "jitting started" event
    /// preceded; ReadyToRun code loads without one), less the dynamic methods of the RocksDB
    /// binding and of marshalling stubs, which no image can hold.
    /// </summary>
    public static List<JittedMethod> Read(IEnumerable<string> traces)
    {
        var methods = new HashSet<JittedMethod>();
        foreach (string trace in traces)
        {
            using var source = new EventPipeEventSource(trace);
            var compiling = new HashSet<long>();
            source.Clr.MethodJittingStarted += e => compiling.Add(e.MethodID);
            source.Clr.MethodLoadVerbose += e =>
            {
                if (compiling.Remove(e.MethodID) && !e.MethodNamespace.StartsWith("dynamicClass", StringComparison.Ordinal)
                    && !e.MethodNamespace.StartsWith("Native_impl", StringComparison.Ordinal))
                {
                    methods.Add(new JittedMethod(e.MethodNamespace, e.MethodName, e.MethodSignature));
                }
            };
            source.Process();
        }

        return [.. methods];
    }
}
