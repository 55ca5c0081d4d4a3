using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RocksDbSharp;

namespace MerkleSync.Core.Index;

/// <summary>
/// Binds RocksDB's native library before the first open needs it. RocksDbSharp binds by emitting a
/// type and a delegate per native function, 0.4-0.7 s of CPU, so commands start it at once on a
/// thread of the lowest priority: it takes the cores the command leaves idle (not those of a push's
/// scan, whose result may make opening the database needless) and is done, or nearly, when the
/// database opens.
/// </summary>
public static partial class NativeBinding
{
    public static void StartInBackground() =>
        new Thread(() =>
        {
            LowerThisThreadsPriority();
            try
            {
                RuntimeHelpers.RunClassConstructor(typeof(Native).TypeHandle);
            }
            catch (TypeInitializationException)
            {
                // The first open reports it, where it can be said what failed.
            }
        })
        { IsBackground = true, Name = "RocksDB binding" }.Start();

    private static void LowerThisThreadsPriority()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // elsewhere setpriority applies to the whole process
        }

        try
        {
            _ = SetPriority(PriorityProcess, GetThreadId(), LowestPriority); // on Linux a thread id names the thread alone
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // A C library without gettid: bind at normal priority.
        }
    }

    private const int PriorityProcess = 0, LowestPriority = 19;

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();
}
