using System.Runtime.InteropServices;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// What the stat cache compares to decide a file is unchanged without reading it: size, mtime and
/// ctime in nanoseconds, and inode (a file replaced by rename has a new inode even with equal times).
/// </summary>
public readonly record struct FileStat(long Size, long ModifiedNs, long ChangedNs, ulong Inode)
{
    /// <summary>lstat(2) where the struct layout is known (Linux x64); elsewhere size and mtime only.</summary>
    public static FileStat Of(string path)
    {
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            Span<byte> buffer = stackalloc byte[256];
            if (NativeStat.Lstat(path, ref MemoryMarshal.GetReference(buffer)) == 0)
            {
                // struct stat on x86_64: st_ino @8, st_size @48, st_mtim @88, st_ctim @104.
                return new FileStat(
                    MemoryMarshal.Read<long>(buffer[48..]),
                    (MemoryMarshal.Read<long>(buffer[88..]) * 1_000_000_000) + MemoryMarshal.Read<long>(buffer[96..]),
                    (MemoryMarshal.Read<long>(buffer[104..]) * 1_000_000_000) + MemoryMarshal.Read<long>(buffer[112..]),
                    MemoryMarshal.Read<ulong>(buffer[8..]));
            }
        }

        var info = new FileInfo(path);
        return new FileStat(info.Exists ? info.Length : -1, (info.LastWriteTimeUtc.Ticks - DateTime.UnixEpoch.Ticks) * 100, 0, 0);
    }
}

internal static partial class NativeStat
{
    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Lstat(string path, ref byte buffer);
}
