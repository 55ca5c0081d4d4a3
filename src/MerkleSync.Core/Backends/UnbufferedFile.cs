using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MerkleSync.Core.Buffers;

namespace MerkleSync.Core.Backends;

/// <summary>
/// Sequential file I/O around the page cache (Linux O_DIRECT), for packs: a pack is written once
/// and read back once to verify it, so caching it only evicts what is worth caching, and filling
/// fresh page-cache pages costs more CPU than the transfer (measured here: 0.25-2.5 CPU-seconds
/// per GiB written through the cache, 0.06 direct). Where the file system refuses O_DIRECT
/// (tmpfs, some network file systems, other platforms) the same code runs through the cache.
/// </summary>
public static partial class UnbufferedFile
{
    /// <summary>Offsets, lengths and buffer addresses of direct transfers are multiples of this.</summary>
    public const int Alignment = 4096;

    /// <summary>Size of each transfer (and of each pooled buffer).</summary>
    public const int BlockSize = 2 << 20;

    private const int GetFlags = 3; // F_GETFL
    private const int SetFlags = 4; // F_SETFL
    private static readonly int DirectFlag = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x4000 : 0x10000;

    // Direct I/O buffers are large and a pack verification or upload needs one or two: pooled, 16 kept.
    // They start on a huge-page boundary, so on any block-size boundary O_DIRECT asks for.
    private static readonly LargeBufferPool Pool = new(BlockSize, maxKept: 16);

    /// <summary>
    /// Opens a forward-only reader of <paramref name="length"/> bytes at <paramref name="offset"/>
    /// (by default the whole file). It reads whole aligned blocks, never past the range's last one.
    /// </summary>
    public static Stream OpenRead(string path, long offset = 0, long? length = null)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        SetDirect(handle, true);
        return new Reader(handle, offset, offset + (length ?? RandomAccess.GetLength(handle) - offset));
    }

    /// <summary>Opens <paramref name="path"/> to append at <paramref name="offset"/> (its length), creating it if asked.</summary>
    public static async ValueTask<AppendStream> OpenAppendAsync(string path, long offset, bool create, CancellationToken cancellationToken)
    {
        var handle = File.OpenHandle(path, create ? FileMode.CreateNew : FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var writer = new AppendStream(handle, SetDirect(handle, true), offset);
            await writer.LoadPartialBlockAsync(cancellationToken).ConfigureAwait(false);
            return writer;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Turns O_DIRECT on or off for an open file; false where it cannot be on.</summary>
    private static bool SetDirect(SafeFileHandle handle, bool on)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        int flags = Fcntl(handle, GetFlags, 0);
        return flags >= 0 && Fcntl(handle, SetFlags, on ? flags | DirectFlag : flags & ~DirectFlag) == 0;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(SafeFileHandle handle, int command, int argument);

    // Blocks go back to the pool once the I/O that may still use them has ended, however it ended (a
    // block is native memory: dropped, it would stay mapped).
    private static void ReturnAfter(Task? io, Memory<byte> block, Memory<byte>? other) =>
        (io ?? Task.CompletedTask).ContinueWith(_ =>
        {
            Pool.Return(block);
            if (other is { } second)
            {
                Pool.Return(second);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Reads a range of a file front to back, one block ahead of the caller.</summary>
    private sealed class Reader(SafeFileHandle handle, long start, long end) : Stream
    {
        private Memory<byte> _current = Pool.Rent();
        private Memory<byte> _next = Pool.Rent();
        private Memory<byte> _data;                                  // unread part of the current block
        private Task<int>? _ahead;                                   // the read of the next block
        private long _filePosition = start - (start % Alignment);   // where the next block starts
        private bool _end = start >= end;
        private bool _disposed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await FillAsync(cancellationToken).ConfigureAwait(false);
            int count = Math.Min(buffer.Length, _data.Length);
            _data[..count].CopyTo(buffer);
            _data = _data[count..];
            return count;
        }

        /// <summary>Writes each block straight from the aligned buffer it was read into: no copy through a buffer of the caller's.</summary>
        public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            while (await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                await destination.WriteAsync(_data, cancellationToken).ConfigureAwait(false);
                _data = default;
            }
        }

        // Makes the next unread bytes current; false at the end of the range.
        private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_data.IsEmpty && !_end)
            {
                // The block read ahead becomes current and the read of the one after it starts.
                int read = await (_ahead ?? ReadBlockAsync(_next, cancellationToken)).ConfigureAwait(false);
                long blockStart = _filePosition - read;
                (_current, _next) = (_next, _current);
                // The range's head and tail are cut from its first and last blocks.
                int from = (int)Math.Clamp(start - blockStart, 0, read);
                int to = (int)Math.Clamp(end - blockStart, from, read);
                _data = _current[from..to];
                _end = read < BlockSize || _filePosition >= end;
                _ahead = _end ? null : ReadBlockAsync(_next, cancellationToken);
            }

            return !_data.IsEmpty;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read packs asynchronously.");

        private async Task<int> ReadBlockAsync(Memory<byte> block, CancellationToken cancellationToken)
        {
            long rangeEnd = end + ((Alignment - (end % Alignment)) % Alignment);
            var window = block[..(int)Math.Min(BlockSize, rangeEnd - _filePosition)];
            int total = 0;
            while (total < window.Length)
            {
                int read = await RandomAccess.ReadAsync(handle, window[total..], _filePosition + total, cancellationToken).ConfigureAwait(false);
                total += read;
                if (read == 0 || total % Alignment != 0)
                {
                    break; // a direct read ends short only at the end of the file
                }
            }

            _filePosition += total;
            return total;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            if (!_disposed && _ahead is { } ahead)
            {
                // The buffers go back to the pool only when no read is filling them.
                await ((Task)ahead).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await base.DisposeAsync().ConfigureAwait(false); // calls Dispose(true)
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                handle.Dispose();
                ReturnAfter(_ahead, _current, _next);
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Appends to a file in whole aligned blocks. <see cref="FlushAsync(CancellationToken)"/> writes
    /// the last partial block through the page cache, so the file never holds padding and its length
    /// is always exactly what was written (an upload's offset is its file's length).
    /// </summary>
    public sealed class AppendStream : Stream
    {
        private readonly SafeFileHandle _handle;
        private readonly bool _direct;
        private Memory<byte> _block = Pool.Rent();
        private Memory<byte>? _spare; // the previous block, while _writing writes it
        private Task? _writing;     // write-behind: the disk takes one block while the next fills
        private long _blockStart;   // file position of the buffer's first byte (aligned)
        private int _fill;
        private bool _disposed;

        internal AppendStream(SafeFileHandle handle, bool direct, long offset)
        {
            _handle = handle;
            _direct = direct;
            _blockStart = offset - (offset % Alignment);
            _fill = (int)(offset - _blockStart);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _blockStart + _fill;

        public override long Position
        {
            get => Length;
            set => throw new NotSupportedException();
        }

        // Writing resumes inside a block: its head is read back so the block can be rewritten whole.
        internal async ValueTask LoadPartialBlockAsync(CancellationToken cancellationToken)
        {
            if (_fill == 0)
            {
                return;
            }

            int read = await RandomAccess.ReadAsync(_handle, _block[..Alignment], _blockStart, cancellationToken).ConfigureAwait(false);
            if (read < _fill)
            {
                throw new IOException($"The file is shorter ({_blockStart + read} bytes) than the offset to append at ({Length}).");
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (!buffer.IsEmpty)
            {
                var free = FreeSpace;
                int count = Math.Min(buffer.Length, free.Length);
                buffer[..count].CopyTo(free);
                buffer = buffer[count..];
                await AdvanceAsync(count, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// The unwritten rest of the current block (never empty): a reader can fill it in place,
        /// saving the copy <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> makes, then
        /// append what it put there with <see cref="AdvanceAsync"/>.
        /// </summary>
        public Memory<byte> FreeSpace
        {
            get
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _block[_fill..];
            }
        }

        /// <summary>Appends the first <paramref name="count"/> bytes of <see cref="FreeSpace"/>.</summary>
        public async ValueTask AdvanceAsync(int count, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(count, BlockSize - _fill);
            _fill += count;
            if (_fill == BlockSize)
            {
                await WrittenAsync().ConfigureAwait(false);
                var full = _block;
                _block = _spare ?? Pool.Rent();
                _spare = full;
                _writing = RandomAccess.WriteAsync(_handle, full, _blockStart, cancellationToken).AsTask();
                _blockStart += BlockSize;
                _fill = 0;
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Write packs asynchronously.");

        private async ValueTask WrittenAsync()
        {
            if (_writing is { } writing)
            {
                _writing = null;
                await writing.ConfigureAwait(false);
            }
        }

        /// <summary>Writes everything buffered; the file's length is then <see cref="Length"/>.</summary>
        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await WrittenAsync().ConfigureAwait(false);
            int whole = _fill - (_fill % Alignment);
            if (whole > 0)
            {
                await RandomAccess.WriteAsync(_handle, _block[..whole], _blockStart, cancellationToken).ConfigureAwait(false);
            }

            if (whole < _fill)
            {
                SetDirect(_handle, false); // a direct write cannot be shorter than a block
                await RandomAccess.WriteAsync(_handle, _block[whole.._fill], _blockStart + whole, cancellationToken).ConfigureAwait(false);
                SetDirect(_handle, _direct);
            }

            // Keep the partial block buffered, at the front, so writing can go on after a flush.
            if (whole > 0)
            {
                _block[whole.._fill].CopyTo(_block);
                _blockStart += whole;
                _fill -= whole;
            }
        }

        public override void Flush() => throw new NotSupportedException("Flush packs asynchronously.");

        /// <summary>Flushes and makes the file's data and length durable.</summary>
        public async ValueTask SyncAsync(CancellationToken cancellationToken)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            RandomAccess.FlushToDisk(_handle);
        }

        /// <summary>Cuts the file back to <paramref name="length"/> (at most its current length), dropping what is buffered beyond it.</summary>
        public async ValueTask TruncateAsync(long length, CancellationToken cancellationToken)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
            await WrittenAsync().ConfigureAwait(false);
            RandomAccess.SetLength(_handle, Math.Min(length, RandomAccess.GetLength(_handle)));
            if (length >= _blockStart)
            {
                _fill = (int)(length - _blockStart);
                return;
            }

            _blockStart = length - (length % Alignment);
            _fill = (int)(length - _blockStart);
            await LoadPartialBlockAsync(cancellationToken).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            if (_writing is { } writing)
            {
                // The buffers go back to the pool only when no write is reading them.
                await writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await base.DisposeAsync().ConfigureAwait(false); // calls Dispose(true)
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                _handle.Dispose();
                ReturnAfter(_writing, _block, _spare);
            }

            base.Dispose(disposing);
        }
    }
}
