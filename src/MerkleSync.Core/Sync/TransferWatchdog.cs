using System.Buffers;
using System.Net;
using System.Runtime.InteropServices;
using MerkleSync.Core.Buffers;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Aborts a transfer that moves no bytes for <see cref="StallTimeout"/>: users of other tools report
/// downloads frozen for hours with no error. Sits inside the retry pipeline and reads each response
/// body there, so a stall in either direction surfaces as a transient <see cref="HttpRequestException"/>
/// that the pipeline retries (uploads then resume from the server's offset).
/// </summary>
internal sealed class TransferWatchdog(HttpMessageHandler inner, TimeSpan stallTimeout) : DelegatingHandler(inner)
{
    public TimeSpan StallTimeout { get; } = stallTimeout;

    /// <summary>MERKLESYNC_STALL_SECONDS, default 60.</summary>
    public static TimeSpan DefaultStallTimeout { get; } = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("MERKLESYNC_STALL_SECONDS"), out double seconds) && seconds > 0 ? seconds : 60);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var watch = new Watch(StallTimeout, cancellationToken);
        var original = request.Content;
        if (original is not null)
        {
            // Wrapped for this attempt only: a retry must see the original content, not a wrapper
            // bound to this attempt's (then disposed) watch.
            request.Content = new ProgressContent(original, watch);
        }

        try
        {
            var response = await base.SendAsync(request, watch.Token).ConfigureAwait(false);
            watch.Progress();
            try
            {
                response.Content = await BufferedContent.ReadAsync(response.Content, watch).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }

            return response;
        }
        catch (OperationCanceledException e) when (watch.Stalled && !cancellationToken.IsCancellationRequested)
        {
            throw new HttpRequestException(HttpRequestError.Unknown, $"Transfer stalled: no bytes moved for {StallTimeout.TotalSeconds:F0} s.", e, HttpStatusCode.RequestTimeout);
        }
        finally
        {
            if (original is not null)
            {
                request.Content = original;
            }
        }
    }

    /// <summary>
    /// A response body already read in full, into a pooled buffer that goes back to the pool when the
    /// response is disposed (pulls read thousands of multi-MiB ranges; fresh arrays for each would
    /// churn the large-object heap). Its bytes can be used without another copy while the response lives.
    /// </summary>
    internal sealed class BufferedContent : HttpContent
    {
        // Its own small pool: the shared one keeps up to 32 arrays per size and core, too many of these.
        private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 64 << 20, maxArraysPerBucket: 8);

        // Pack ranges, the bulk of a pull, in huge-page buffers (see LargeBuffer): as many as a pull
        // reads at once. Smaller bodies (JSON, ranges of a few chunks) take arrays.
        private static readonly LargeBufferPool RangeBuffers = new((int)RemoteExtensions.MaxReadBytes, maxKept: 8);
        private const int SmallestRange = 1 << 20;

        private readonly Memory<byte> _buffer; // a whole array of Pool or block of RangeBuffers, which takes it back
        private readonly int _length;
        private int _returned;

        private BufferedContent(Memory<byte> buffer, int length, HttpContent original)
        {
            _buffer = buffer;
            _length = length;
            foreach (var header in original.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        public ReadOnlyMemory<byte> Bytes => Volatile.Read(ref _returned) == 0 ? _buffer[.._length] : throw new ObjectDisposedException(nameof(BufferedContent));

        /// <summary>Reads <paramref name="original"/> to its end (reporting progress to the watch) and disposes it.</summary>
        internal static async Task<BufferedContent> ReadAsync(HttpContent original, Watch watch)
        {
            using (original)
            {
                await using var stream = await original.ReadAsStreamAsync(watch.Token).ConfigureAwait(false);
                long? announced = original.Headers.ContentLength;
                if (announced is { } size && size >= SmallestRange && size <= RangeBuffers.BlockBytes)
                {
                    var large = RangeBuffers.Rent();
                    try
                    {
                        return new BufferedContent(large, await FillAsync(stream, large[..(int)size], watch).ConfigureAwait(false), original);
                    }
                    catch
                    {
                        RangeBuffers.Return(large);
                        throw;
                    }
                }

                byte[] buffer = Pool.Rent((int)Math.Clamp(announced ?? 0, 1 << 16, 64 << 20));
                int length = 0;
                try
                {
                    while (length != announced)
                    {
                        int read = await FillAsync(stream, buffer.AsMemory(length), watch).ConfigureAwait(false);
                        length += read;
                        if (length < buffer.Length || length == announced)
                        {
                            break; // the body ended
                        }

                        byte[] larger = Pool.Rent(checked(buffer.Length * 2));
                        buffer.AsSpan(0, length).CopyTo(larger);
                        Pool.Return(buffer);
                        buffer = larger;
                    }
                }
                catch
                {
                    Pool.Return(buffer);
                    throw;
                }

                return new BufferedContent(buffer, length, original);
            }
        }

        /// <summary>Reads into <paramref name="destination"/> until it is full or the body ends; returns the bytes read.</summary>
        private static async Task<int> FillAsync(Stream stream, Memory<byte> destination, Watch watch)
        {
            int length = 0;
            int read;
            while (length < destination.Length && (read = await stream.ReadAsync(destination[length..], watch.Token).ConfigureAwait(false)) > 0)
            {
                watch.Progress();
                length += read;
            }

            return length;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(Bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _returned, 1) == 0)
            {
                if (MemoryMarshal.TryGetArray<byte>(_buffer, out var array))
                {
                    Pool.Return(array.Array!);
                }
                else
                {
                    RangeBuffers.Return(_buffer);
                }
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Cancels its token when <see cref="Progress"/> has not been called for the timeout.</summary>
    internal sealed class Watch : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly Timer _timer;
        private readonly TimeSpan _timeout;
        private long _lastProgress = Environment.TickCount64;

        public Watch(TimeSpan timeout, CancellationToken outer)
        {
            _timeout = timeout;
            _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
            var period = TimeSpan.FromMilliseconds(Math.Max(50, timeout.TotalMilliseconds / 4));
            _timer = new Timer(_ => Check(), null, period, period);
        }

        public CancellationToken Token => _source.Token;

        public bool Stalled { get; private set; }

        public void Progress() => Interlocked.Exchange(ref _lastProgress, Environment.TickCount64);

        public void Dispose()
        {
            _timer.Dispose();
            _source.Dispose();
        }

        private void Check()
        {
            if (Environment.TickCount64 - Interlocked.Read(ref _lastProgress) > _timeout.TotalMilliseconds)
            {
                Stalled = true;
                try
                {
                    _source.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    /// <summary>Request content that reports progress as it is written to the connection.</summary>
    private sealed class ProgressContent(HttpContent inner, Watch watch) : DelegatingContent(inner)
    {
        // The content writes itself straight to the connection: bytes in memory (upload pieces) are
        // not copied through a buffer on their way.
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            Inner.CopyToAsync(new ProgressStream(stream, watch), watch.Token);
    }

    /// <summary>Writes to the connection in slices, noting progress after each.</summary>
    private sealed class ProgressStream(Stream connection, Watch watch) : Stream
    {
        /// <summary>
        /// A slice is one send on loopback. Upload pieces read back 64 KiB at a time into a buffer
        /// cost an upload of 1 GiB 16 thousand sends and ~0.07 CPU-s of copying.
        /// </summary>
        private const int Slice = 1 << 20;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => connection.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => connection.FlushAsync(watch.Token);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException(); // requests are written asynchronously

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // The watch's token, not the caller's: it carries the caller's and the stall timeout.
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (; !buffer.IsEmpty; buffer = buffer[Math.Min(buffer.Length, Slice)..])
            {
                await connection.WriteAsync(buffer[..Math.Min(buffer.Length, Slice)], watch.Token).ConfigureAwait(false);
                watch.Progress();
            }
        }
    }
}
