using Microsoft.Win32.SafeHandles;
using MerkleSync.Core.ClientState;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Ingest;

/// <summary>Random access to a snapshot file's content: a regular file's bytes, or a symlink's target text.</summary>
public sealed class ChunkSource : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly byte[]? _bytes;

    private ChunkSource(SafeFileHandle? handle, byte[]? bytes)
    {
        _handle = handle;
        _bytes = bytes;
    }

    public static ChunkSource Open(string sourcePath, bool symlink) => symlink
        ? new ChunkSource(null, SymlinkContent(sourcePath))
        : new ChunkSource(File.OpenHandle(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read), null);

    /// <summary>What a symlink's content is, for hashing and for upload alike: its target path in UTF-8.</summary>
    public static byte[] SymlinkContent(string path) =>
        DatasetPath.Utf8.GetBytes(new FileInfo(path).LinkTarget ?? throw new FileNotFoundException("The symlink is gone.", path)); // Linux has no empty link targets

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/> with a blocking read; fewer bytes only at the end.</summary>
    public int Read(Span<byte> buffer, long offset)
    {
        if (_bytes is not null)
        {
            int count = (int)Math.Clamp(_bytes.Length - offset, 0, buffer.Length);
            _bytes.AsSpan((int)Math.Min(offset, _bytes.Length), count).CopyTo(buffer);
            return count;
        }

        int total = 0;
        while (total < buffer.Length)
        {
            int read = RandomAccess.Read(_handle!, buffer[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>The stat of the file being read (of its path for a symlink, whose target text is its content).</summary>
    public FileStat Stat(string sourcePath) => _handle is null ? FileStat.Of(sourcePath) : FileStat.Of(_handle, sourcePath);

    public void Dispose() => _handle?.Dispose();
}
