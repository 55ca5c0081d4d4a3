namespace MerkleSync.Core.Sync;

/// <summary>
/// Request content over bytes in memory that a wrapper can write straight from (see
/// <see cref="TransferWatchdog"/>), where <see cref="ByteArrayContent"/> hides them behind a stream
/// that would be copied through a buffer first.
/// </summary>
internal sealed class MemoryContent(ReadOnlyMemory<byte> bytes) : HttpContent
{
    public ReadOnlyMemory<byte> Bytes { get; } = bytes;

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
        stream.WriteAsync(Bytes, cancellationToken).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = Bytes.Length;
        return true;
    }
}
