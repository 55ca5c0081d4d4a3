using System.Net.Http.Headers;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Counts what crosses the wire, requests and responses, headers included (as HTTP/1.1 text), so
/// push and pull can report the bytes they really cost, retries and all.
/// </summary>
internal sealed class WireCounter : DelegatingHandler
{
    private long _sent;
    private long _received;

    public WireCounter(HttpMessageHandler inner)
        : base(inner)
    {
    }

    public long Sent => Interlocked.Read(ref _sent);

    public long Received => Interlocked.Read(ref _received);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        long requestBytes = request.Method.Method.Length + (request.RequestUri?.PathAndQuery.Length ?? 0) + 12
            + HeaderBytes(request.Headers) + (request.Content is null ? 0 : HeaderBytes(request.Content.Headers) + (request.Content.Headers.ContentLength ?? 0));
        Interlocked.Add(ref _sent, requestBytes);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _received, 17 + (response.ReasonPhrase?.Length ?? 0) + HeaderBytes(response.Headers) + HeaderBytes(response.Content.Headers));
        response.Content = new CountingContent(response.Content, this);
        return response;
    }

    private static long HeaderBytes(HttpHeaders headers) => headers.Sum(h => h.Key.Length + 4 + h.Value.Sum(v => (long)v.Length + 2));

    private sealed class CountingContent(HttpContent inner, WireCounter counter) : DelegatingContent(inner)
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            await (await CreateContentReadStreamAsync().ConfigureAwait(false)).CopyToAsync(stream).ConfigureAwait(false);

        protected override async Task<Stream> CreateContentReadStreamAsync() =>
            new CountingStream(await Inner.ReadAsStreamAsync().ConfigureAwait(false), counter);
    }

    private sealed class CountingStream(Stream inner, WireCounter counter) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Count(int read)
        {
            Interlocked.Add(ref counter._received, read);
            return read;
        }
    }
}
