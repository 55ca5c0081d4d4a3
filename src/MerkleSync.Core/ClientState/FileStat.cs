using System.Buffers;
using System.Runtime.InteropServices;
using MerkleSync.Core.Serialization;
using Microsoft.Win32.SafeHandles;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// What the stat cache compares to decide a file is unchanged without reading it: size, mtime and
/// ctime in nanoseconds, and inode (a file replaced by rename has a new inode even with equal times).
/// </summary>
public readonly record struct FileStat(long Size, long ModifiedNs, long ChangedNs, ulong Inode)
{
    /// <summary>
    /// As the client state stores a stat: four varints, the times as 64-bit two's complement (a time
    /// before 1970 is negative).
    /// </summary>
    internal void WriteTo(IBufferWriter<byte> writer)
    {
        Varint.Write(writer, (ulong)Size);
        Varint.Write(writer, (ulong)ModifiedNs);
        Varint.Write(writer, (ulong)ChangedNs);
        Varint.Write(writer, Inode);
    }

    /// <summary>A stat as <see cref="WriteTo"/> writes it.</summary>
    internal static FileStat ReadFrom(ref SpanReader reader) =>
        new(reader.ReadInt64Varint(), (long)reader.ReadVarint(), (long)reader.ReadVarint(), reader.ReadVarint());

    /// <summary>lstat(2) where the struct layout is known (Linux x64); elsewhere size and mtime only.</summary>
    public static FileStat Of(string path)
    {
        if (TryLstat(path, out var stat, out _))
        {
            return stat;
        }

        var info = new FileInfo(path);
        return new FileStat(info.Exists ? info.Length : -1, (info.LastWriteTimeUtc.Ticks - DateTime.UnixEpoch.Ticks) * 100, 0, 0);
    }

    /// <summary>
    /// fstat(2) of an open file where the layout is known (no walk of its path, and the stat of the
    /// very file read, even if another was renamed over its path since); elsewhere by its path.
    /// </summary>
    public static FileStat Of(SafeFileHandle handle, string path)
    {
        if (StatLayoutKnown)
        {
            Span<byte> buffer = stackalloc byte[256];
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                if (NativeStat.Fstat((int)handle.DangerousGetHandle(), ref MemoryMarshal.GetReference(buffer)) == 0)
                {
                    return FromStatBuffer(buffer, out _);
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        return Of(path);
    }

    private static bool StatLayoutKnown => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    // struct stat on x86_64: st_ino @8, st_mode @24, st_size @48, st_mtim @88, st_ctim @104.
    private static FileStat FromStatBuffer(ReadOnlySpan<byte> buffer, out uint mode)
    {
        mode = MemoryMarshal.Read<uint>(buffer[24..]);
        return new FileStat(
            MemoryMarshal.Read<long>(buffer[48..]),
            (MemoryMarshal.Read<long>(buffer[88..]) * 1_000_000_000) + MemoryMarshal.Read<long>(buffer[96..]),
            (MemoryMarshal.Read<long>(buffer[104..]) * 1_000_000_000) + MemoryMarshal.Read<long>(buffer[112..]),
            MemoryMarshal.Read<ulong>(buffer[8..]));
    }

    /// <summary>
    /// lstat(2) on Linux x64, with the file type and permission bits (<c>st_mode</c>); false where the
    /// layout is not known or the call fails.
    /// </summary>
    internal static bool TryLstat(string path, out FileStat stat, out uint mode) => TryStat(path, followLinks: false, out stat, out mode);

    /// <summary>As <see cref="TryLstat"/>, but with stat(2), which follows symlinks when <paramref name="followLinks"/> is true.</summary>
    internal static bool TryStat(string path, bool followLinks, out FileStat stat, out uint mode) => TryStat(path, followLinks, out stat, out mode, out _);

    /// <param name="error">The errno of a failed call; 0 where the stat layout is not known and nothing was called.</param>
    internal static bool TryStat(string path, bool followLinks, out FileStat stat, out uint mode, out int error)
    {
        error = 0;
        if (StatLayoutKnown)
        {
            Span<byte> buffer = stackalloc byte[256];
            if ((followLinks ? NativeStat.Stat(path, ref MemoryMarshal.GetReference(buffer)) : NativeStat.Lstat(path, ref MemoryMarshal.GetReference(buffer))) == 0)
            {
                stat = FromStatBuffer(buffer, out mode);
                return true;
            }

            error = Marshal.GetLastPInvokeError();
        }

        stat = default;
        mode = 0;
        return false;
    }
}

internal static partial class NativeStat
{
    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Lstat(string path, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Stat(string path, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    internal static partial int Fstat(int fd, ref byte buffer);
}
