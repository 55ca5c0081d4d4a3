using System.Globalization;
using System.Net.Http.Headers;
using MerkleSync.Core.Buffers;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Ingest;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Repository;

namespace MerkleSync.Core.Sync;

/// <summary>
/// Pack uploads: each pack streams to the server through a tus upload of deferred length while it
/// is being filled, one PATCH per piece, so a pack is never written to disk or held whole in
/// memory on the client. Before a piece goes out, the sources of its chunks are recorded in the
/// checkpoints; after a crash the next run rebuilds the same bytes from them and sends only what
/// the server lacks.
/// </summary>
public sealed partial class HttpRemote
{
    /// <summary>
    /// PATCH size; a pack being filled holds two pieces (one filling, one being sent), a pack being
    /// finished one. At 4 MiB the pieces were the largest part of a push's memory (up to 12 in use
    /// with two lanes) and pushes on loopback were no faster.
    /// </summary>
    private const int UploadPieceBytes = 2 << 20;

    /// <summary>
    /// Pieces this remote's uploads hold at most: a pack being filled holds two, a pack being
    /// finished one until the server answers. Uncapped, four lanes with up to three packs finishing
    /// each held up to twenty, more the longer a push ran, so its memory grew with its size. A lane
    /// that would go over waits for a pack to finish. Above the most lanes that can fill packs at
    /// once (ten, <see cref="EarlyUpload"/>): each may hold one piece while it waits for a second,
    /// and with no piece left over they would all wait for each other.
    /// </summary>
    private const int PieceBudget = 12;

    // Pieces are rented on one thread and returned on another, which the shared pool kept only
    // partly: about 8 MB of new piece arrays per GiB pushed. All are kept (the budget bounds them),
    // never unmapped: a PATCH the server answered early may still be reading its piece.
    private static readonly LargeBufferPool PiecePool = new(UploadPieceBytes);

    private readonly SemaphoreSlim _pieces = new(PieceBudget);
    private IUploadCheckpoints? _checkpoints;

    public async ValueTask<IPackUpload> BeginPackAsync(Compression compression, CancellationToken cancellationToken)
    {
        using var create = TusRequest(HttpMethod.Post, new Uri($"{_api}/uploads"));
        create.Headers.Add("Upload-Defer-Length", "1");
        using var created = await _http.SendAsync(create, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(created, cancellationToken).ConfigureAwait(false);
        var location = new Uri(new Uri(_api), created.Headers.Location ?? throw new CorruptDataException("Upload creation returned no Location."));
        string name = $"{Guid.NewGuid():N}";
        _checkpoints?.Begin(name, Url, location.ToString(), compression);
        return new HttpPackUpload(this, name, location, alreadySent: 0, _checkpoints);
    }

    public async ValueTask<int> ResumeUploadsAsync(IUploadCheckpoints checkpoints, CancellationToken cancellationToken)
    {
        _checkpoints = checkpoints;
        int resumed = 0;
        foreach (var checkpoint in checkpoints.List().Where(c => c.RemoteUrl == Url))
        {
            if (await ResumeAsync(checkpoint, cancellationToken).ConfigureAwait(false))
            {
                resumed++;
            }

            checkpoints.Remove(checkpoint.Name);
        }

        return resumed;
    }

    /// <summary>
    /// Rebuilds an interrupted pack from its chunks' sources and sends what the server lacks. Gives
    /// the upload up (its chunks are then negotiated again) when the server no longer has it, a
    /// source changed or vanished, or the server rejects the rebuilt pack. Network failures propagate
    /// and leave the checkpoint for the next run.
    /// </summary>
    private async Task<bool> ResumeAsync(UploadCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        var location = new Uri(checkpoint.UploadUrl);
        long offset;
        try
        {
            offset = await UploadOffsetAsync(location, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return false; // finished (its response lost) or expired
        }

        await using var upload = new HttpPackUpload(this, checkpoint.Name, location, offset, checkpoints: null);
        try
        {
            await foreach (var batch in EncodedBatch.ReadAllAsync(checkpoint.Chunks.ToArray(), rehashAll: true, checkpoint.Compression, cancellationToken).ConfigureAwait(false))
            {
                for (int i = 0; i < batch.Count; i++)
                {
                    var (origin, codec, stored, crc32C) = batch[i];
                    await upload.AddAsync(origin, codec, stored, crc32C, cancellationToken).ConfigureAwait(false);
                }
            }

            if (checkpoint.Chunks.Count > 0)
            {
                await upload.CompleteAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
        }
        catch (Exception e) when (e is InvalidInputException or CorruptDataException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            // A source changed or vanished, or the rebuilt bytes differ from those sent before.
        }

        await DeleteUploadAsync(location, cancellationToken).ConfigureAwait(false);
        return false;
    }

    private static HttpRequestMessage TusRequest(HttpMethod method, Uri location)
    {
        var request = new HttpRequestMessage(method, location);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        return request;
    }

    private async Task DeleteUploadAsync(Uri location, CancellationToken cancellationToken)
    {
        using var delete = TusRequest(HttpMethod.Delete, location);
        using var response = await _http.SendAsync(delete, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
        {
            await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<long> UploadOffsetAsync(Uri location, CancellationToken cancellationToken)
    {
        using var head = TusRequest(HttpMethod.Head, location);
        using var state = await _http.SendAsync(head, cancellationToken).ConfigureAwait(false);
        await EnsureAsync(state, cancellationToken).ConfigureAwait(false);
        return long.Parse(state.Headers.GetValues("Upload-Offset").Single(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Sends <paramref name="count"/> bytes that sit at pack offset <paramref name="start"/>; after a
    /// failed PATCH asks the server where it stands (tus HEAD) and continues from there. The last
    /// piece carries <paramref name="uploadLength"/>; returns the pack id the server confirmed then.
    /// No per-PATCH checksum: the server re-hashes every chunk with BLAKE3 before it accepts the
    /// pack, which already catches any damage in transit.
    /// </summary>
    private async Task<string?> PatchAsync(Uri location, ReadOnlyMemory<byte> piece, int count, long start, long? uploadLength, CancellationToken cancellationToken)
    {
        long offset = start;
        for (int failures = 0; ;)
        {
            int sent = (int)(offset - start);
            using var patch = TusRequest(HttpMethod.Patch, location);
            patch.Content = new ReadOnlyMemoryContent(piece[sent..count]);
            patch.Headers.Add("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
            if (uploadLength is { } length)
            {
                patch.Headers.Add("Upload-Length", length.ToString(CultureInfo.InvariantCulture));
            }

            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
            try
            {
                using var response = await _http.SendAsync(patch, cancellationToken).ConfigureAwait(false);
                await EnsureAsync(response, cancellationToken).ConfigureAwait(false);
                offset = long.Parse(response.Headers.GetValues("Upload-Offset").Single(), CultureInfo.InvariantCulture);
                if (uploadLength is not null && response.Headers.TryGetValues("MerkleSync-Pack-Id", out var packIds))
                {
                    return packIds.Single();
                }

                if (uploadLength is null && offset == start + count)
                {
                    return null;
                }
            }
            // A lost answer or a body cut short: continue from where the server stands. A 5xx answer
            // is final here; the pipeline has retried it with backoff (8 more rounds of that made a
            // server that cannot write take a minute to report).
            catch (Exception e) when (e is (IOException and not ServerErrorException) or HttpRequestException or ConflictException && ++failures <= 8)
            {
                offset = await UploadOffsetAsync(location, cancellationToken).ConfigureAwait(false);
            }

            if (offset < start || offset > start + count)
            {
                throw new CorruptDataException($"The server's upload stands at byte {offset}, outside the piece {start}-{start + count} being sent.");
            }
        }
    }

    private async ValueTask<Memory<byte>> RentPieceAsync(CancellationToken cancellationToken)
    {
        await _pieces.WaitAsync(cancellationToken).ConfigureAwait(false);
        return PiecePool.Rent();
    }

    private void ReturnPiece(Memory<byte> piece)
    {
        PiecePool.Return(piece);
        _pieces.Release();
    }

    /// <summary>One pack on its way: a pack writer over a stream that sends full pieces as PATCHes.</summary>
    private sealed class HttpPackUpload : IPackUpload
    {
        private readonly string _name;
        private readonly IUploadCheckpoints? _checkpoints;
        private readonly PieceStream _stream;
        private readonly PackWriter _writer;
        private readonly List<ChunkOrigin> _unrecorded = [];
        private readonly HttpRemote _remote;

        /// <param name="alreadySent">Bytes of this pack the server has (a resumed upload); they are rebuilt but not sent.</param>
        /// <param name="checkpoints">Where chunk sources are recorded before their bytes go out; null when they already are.</param>
        public HttpPackUpload(HttpRemote remote, string name, Uri location, long alreadySent, IUploadCheckpoints? checkpoints)
        {
            _remote = remote;
            _name = name;
            _checkpoints = checkpoints;
            _stream = new PieceStream(remote, location, alreadySent, RecordSources);
            _writer = new PackWriter(_stream);
        }

        public long Length => _writer.Length;

        public ValueTask AddAsync(ChunkOrigin origin, Codec codec, ReadOnlyMemory<byte> stored, uint crc32C, CancellationToken cancellationToken)
        {
            _unrecorded.Add(origin);
            return _writer.AddEncodedAsync(origin.Hash, origin.Length, codec, stored, crc32C, cancellationToken);
        }

        public async ValueTask<PackSummary> CompleteAsync(CancellationToken cancellationToken)
        {
            var summary = await _writer.FinishAsync(cancellationToken).ConfigureAwait(false);
            string? packId;
            try
            {
                packId = await _stream.SendLastAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // The upload is gone: either the answer to the last PATCH was lost after the server
                // stored the pack (it then has every chunk), or the upload expired.
                var have = await _remote.HaveChunksAsync([.. summary.Entries.Select(e => e.ChunkHash)], cancellationToken).ConfigureAwait(false);
                packId = have.All(h => h) ? summary.PackId.ToString() : throw new IOException("The server dropped the upload before it was complete; push again.");
            }

            if (packId != summary.PackId.ToString())
            {
                throw new CorruptDataException($"The server stored pack {packId ?? "(none)"} where {summary.PackId} was sent.");
            }

            _checkpoints?.Remove(_name);
            return summary;
        }

        private void RecordSources()
        {
            if (_checkpoints is not null && _unrecorded.Count > 0)
            {
                _checkpoints.AppendChunks(_name, [.. _unrecorded]);
            }

            _unrecorded.Clear();
        }

        /// <summary>An unfinished upload keeps its checkpoint (and the server its bytes) for the next run.</summary>
        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }

    /// <summary>
    /// A write-only stream that sends each full piece as a PATCH while the next one fills (one PATCH
    /// at a time, in order). Bytes before <c>skip</c> are dropped: the server has them.
    /// </summary>
    private sealed class PieceStream(HttpRemote remote, Uri location, long skip, Action beforeSend) : Stream
    {
        private Memory<byte>? _piece;
        private Memory<byte>? _sendingPiece;
        private int _filled;
        private long _position;
        private Task? _sending;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _position;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < skip)
            {
                int drop = (int)Math.Min(buffer.Length, skip - _position);
                buffer = buffer[drop..];
                _position += drop;
            }

            while (buffer.Length > 0)
            {
                var piece = _piece ??= await remote.RentPieceAsync(cancellationToken).ConfigureAwait(false);
                int take = Math.Min(buffer.Length, UploadPieceBytes - _filled);
                buffer[..take].CopyTo(piece[_filled..]);
                _filled += take;
                _position += take;
                buffer = buffer[take..];
                if (_filled == UploadPieceBytes)
                {
                    await WaitForSendAsync().ConfigureAwait(false);
                    beforeSend();
                    (_piece, _sendingPiece) = (_sendingPiece ?? await remote.RentPieceAsync(cancellationToken).ConfigureAwait(false), _piece);
                    _sending = remote.PatchAsync(location, _sendingPiece.Value, _filled, _position - _filled, null, cancellationToken);
                    _filled = 0;
                }
            }
        }

        /// <summary>Sends what is left with the upload's length; the server then verifies the pack and answers with its id.</summary>
        public async Task<string?> SendLastAsync(CancellationToken cancellationToken)
        {
            await WaitForSendAsync().ConfigureAwait(false);
            ReturnSpare(); // while the server verifies the pack, hold only the last piece
            beforeSend();
            try
            {
                return await remote.PatchAsync(location, _piece ?? Memory<byte>.Empty, _filled, _position - _filled, _position, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // Nothing more is sent for this pack, and the lane may not dispose it for a while.
                ReturnPiece();
            }
        }

        private async Task WaitForSendAsync()
        {
            if (_sending is { } sending)
            {
                _sending = null;
                await sending.ConfigureAwait(false);
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask; // pieces go out when full or last

        public override void Flush()
        {
        }

        public override async ValueTask DisposeAsync()
        {
            try
            {
                await WaitForSendAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Whoever used the stream has seen (or will see) the failure; the buffers are freed either way.
            }

            ReturnPiece();
            ReturnSpare();
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private void ReturnPiece()
        {
            if (_piece is { } piece)
            {
                _piece = null;
                remote.ReturnPiece(piece);
            }
        }

        private void ReturnSpare()
        {
            if (_sendingPiece is { } spare)
            {
                _sendingPiece = null;
                remote.ReturnPiece(spare);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Pack uploads are written asynchronously.");

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
