using System.Diagnostics;

namespace MerkleSync.Server.Hosting;

/// <summary>One log line per request: who, what, bytes in and out, status, time.</summary>
internal static partial class AccessLog
{
    public const string UserItem = "merklesync.user";

    public static Func<HttpContext, RequestDelegate, Task> Middleware(ILogger logger) => async (context, next) =>
    {
        long start = Stopwatch.GetTimestamp();
        var counting = new CountingStream(context.Response.Body);
        context.Response.Body = counting;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = counting.Inner;
            ServerMetrics.BytesIn.Inc(context.Request.ContentLength ?? 0);
            ServerMetrics.BytesOut.Inc(counting.Written);
            if (logger.IsEnabled(LogLevel.Information))
            {
                string user = context.Items[UserItem] as string ?? "-";
                string path = context.Request.Path.Value ?? "";
                double milliseconds = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                Log(logger, user, context.Request.Method, path, context.Request.ContentLength ?? 0, counting.Written, context.Response.StatusCode, milliseconds);
            }
        }
    };

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{User} {Method} {Path} in={BytesIn} out={BytesOut} status={Status} ms={Milliseconds:F1}")]
    private static partial void Log(ILogger logger, string user, string method, string path, long bytesIn, long bytesOut, int status, double milliseconds);

    private sealed class CountingStream(Stream inner) : Stream
    {
        public Stream Inner => inner;
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Written += count;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
