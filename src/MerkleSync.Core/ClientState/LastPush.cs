using System.Buffers;
using System.Buffers.Binary;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// What the last push from a directory found, kept beside the state database in
/// <c>.merklesync/last-push</c>: a fingerprint of every file's stat and the remote version (and
/// root) those files made. A push whose scan has the same fingerprint and finds the
/// branch still at that version has nothing to do, and learns it without opening the database
/// (binding RocksDB costs a process ~0.6 s, more than the rest of such a push).
/// </summary>
/// <remarks>
/// The fingerprint trusts stats exactly as the stat cache does, and is only written when every
/// file's content came from a stat the cache trusts (none was modified within the racy window).
/// </remarks>
public sealed record LastPush(Hash Fingerprint, string RemoteUrl, string Branch, Hash VersionId, Hash Root, long Files, long Bytes, long Chunks)
{
    public const string FileName = "last-push";

    private static readonly byte[] Magic = "MSLPUSH1"u8.ToArray();

    /// <summary>
    /// BLAKE3 (derive-key mode) over each scanned file in order: UTF-8 path · 0x00 · mode (u8) ·
    /// size · mtime ns · ctime ns (i64 LE) · inode (u64 LE); null where the scan could not lstat.
    /// </summary>
    public static Hash? FingerprintOf(IReadOnlyList<ScannedFile> scanned)
    {
        using var hasher = new PathRecordHasher("merklesync 2026 scan fingerprint v1", 1 + (4 * sizeof(long)));
        foreach (var file in scanned)
        {
            if (file.Stat is not { } stat)
            {
                return null;
            }

            var fixedPart = hasher.Add(file.Path);
            fixedPart[0] = (byte)file.Mode;
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[1..], stat.Size);
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[9..], stat.ModifiedNs);
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[17..], stat.ChangedNs);
            BinaryPrimitives.WriteUInt64LittleEndian(fixedPart[25..], stat.Inode);
        }

        return hasher.Finish();
    }

    /// <summary>The record in <paramref name="stateFolder"/>, or null if there is none or it is damaged (then a push takes the full path).</summary>
    public static LastPush? Read(string stateFolder)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path.Combine(stateFolder, FileName));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (!bytes.AsSpan().StartsWith(Magic))
        {
            return null;
        }

        try
        {
            var reader = new SpanReader(bytes.AsSpan(Magic.Length));
            var last = new LastPush(reader.ReadHash(), reader.ReadString(MaxText), reader.ReadString(MaxText), reader.ReadHash(), reader.ReadHash(),
                reader.ReadInt64Varint(), reader.ReadInt64Varint(), reader.ReadInt64Varint());
            return reader.AtEnd ? last : null;
        }
        catch (CorruptDataException)
        {
            return null;
        }
    }

    private const int MaxText = 64 * 1024;

    /// <summary>The record in <paramref name="stateFolder"/> if a scan with <paramref name="fingerprint"/> finds the files as it left them.</summary>
    public static LastPush? ReadMatching(string stateFolder, Hash? fingerprint) =>
        fingerprint is { } print && Read(stateFolder) is { } last && last.Fingerprint == print ? last : null;

    /// <summary>Replaces the record atomically (written aside, then renamed over it).</summary>
    public void Write(string stateFolder)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        writer.Write(Magic);
        Varint.WriteHash(writer, Fingerprint);
        Varint.WriteString(writer, RemoteUrl);
        Varint.WriteString(writer, Branch);
        Varint.WriteHash(writer, VersionId);
        Varint.WriteHash(writer, Root);
        Varint.Write(writer, (ulong)Files);
        Varint.Write(writer, (ulong)Bytes);
        Varint.Write(writer, (ulong)Chunks);
        StateFile.Replace(Path.Combine(stateFolder, FileName), writer.WrittenSpan);
    }

    public static void Delete(string stateFolder) => File.Delete(Path.Combine(stateFolder, FileName));
}
