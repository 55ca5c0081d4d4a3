using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Serialization;

namespace MerkleSync.Core.Repository;

/// <summary>
/// A resumable pack upload (tus): how long the pack will be (null until a client that streams the
/// pack says so: tus creation-defer-length) and how much has arrived.
/// </summary>
public sealed record UploadState(string Id, long? Length, long Offset, long CreatedUnixMs)
{
    /// <summary>The most bytes the upload may hold: its length, or the largest pack while that is not known.</summary>
    public long Limit => Length ?? Repository.MaxUploadLength;

    /// <summary>The most bytes the upload may still take.</summary>
    public long Room => Limit - Offset;
}

/// <summary>The bytes of a PATCH did not match the checksum the client sent (tus status 460).</summary>
public sealed class ChecksumMismatchException(string message) : MerkleSyncException(message);

public sealed partial class Repository
{
    /// <summary>Largest pack an upload may announce (4× the target size).</summary>
    public const long MaxUploadLength = 4 * PackFormat.TargetPackSize;

    /// <summary>Uploads untouched for this long are removed when the repository opens.</summary>
    public static readonly TimeSpan UploadExpiry = TimeSpan.FromHours(24);

    // Uploads with at most this many verifiers at a time; beyond, a pack is verified by reading it back.
    private const int MaxUploadVerifiers = 64;

    // Each upload's bytes verified as they arrive, while every byte has come through this process in
    // order; FinishUploadAsync then needs no second read of the pack.
    private readonly ConcurrentDictionary<string, PackStreamVerifier> _uploadVerifiers = new();

    // Uploads a request is appending to or finishing, each with what completes when it is done. One
    // request at a time per upload, said outright: .NET's file-share locks (flock on Unix) are
    // advisory and can be switched off.
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _busyUploads = new(StringComparer.Ordinal);

    private string UploadFolder => System.IO.Path.Combine(Path, "tmp", "uploads");

    private string UploadPath(string id) => System.IO.Path.Combine(UploadFolder, id + ".partial");

    /// <summary>Starts an upload of <paramref name="length"/> bytes, or of a length to be told later (null).</summary>
    public UploadState CreateUpload(long? length)
    {
        CheckUploadLength(length);
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(UploadFolder);
        File.WriteAllBytes(UploadPath(id), []);
        var state = new UploadState(id, length, 0, NowUnixMs);
        SaveUpload(state);
        if (_uploadVerifiers.Count < MaxUploadVerifiers)
        {
            _uploadVerifiers[id] = new PackStreamVerifier();
        }

        return state;
    }

    /// <summary>Sets the length of an upload created without one; telling the same length again is harmless.</summary>
    public UploadState SetUploadLength(string id, long length)
    {
        var state = GetUpload(id) ?? throw new NotFoundException($"Upload {id} does not exist.");
        CheckUploadLength(length);
        if (state.Length is { } known)
        {
            return known == length ? state : throw new InvalidInputException($"Upload {id} has length {known}; it cannot change to {length}.");
        }

        if (length < state.Offset)
        {
            throw new InvalidInputException($"Upload {id} already has {state.Offset} bytes, more than the length {length}.");
        }

        state = state with { Length = length };
        SaveUpload(state);
        return state;
    }

    private static void CheckUploadLength(long? length)
    {
        if (length is < PackFormat.MinimumLength or > MaxUploadLength)
        {
            throw new InvalidInputException($"A pack upload must be between {PackFormat.MinimumLength} and {MaxUploadLength} bytes; {length} was announced.");
        }
    }

    // Value: length + 1 (0: not known yet) · created (unix ms), varints.
    private void SaveUpload(UploadState state)
    {
        var value = new ArrayBufferWriter<byte>(16);
        Varint.Write(value, state.Length is { } length ? (ulong)length + 1 : 0);
        Varint.Write(value, (ulong)state.CreatedUnixMs);
        Db.Put(Families.Uploads, System.Text.Encoding.ASCII.GetBytes(state.Id), value.WrittenSpan);
    }

    public UploadState? GetUpload(string id)
    {
        if (!IsUploadId(id) || Db.Get(Families.Uploads, System.Text.Encoding.ASCII.GetBytes(id)) is not { } value || !File.Exists(UploadPath(id)))
        {
            return null;
        }

        var reader = new SpanReader(value);
        long lengthPlusOne = reader.ReadInt64Varint();
        return new UploadState(id, lengthPlusOne == 0 ? null : lengthPlusOne - 1, new FileInfo(UploadPath(id)).Length, reader.ReadInt64Varint());
    }

    /// <summary>
    /// Appends a PATCH body at <paramref name="offset"/> (which must be where the upload stands).
    /// With a checksum (tus "sha1"/"sha256", base64), bytes that do not match are cut off again.
    /// Returns the new offset. Bytes beyond the announced length are refused.
    /// </summary>
    public async Task<long> AppendUploadAsync(string id, long offset, Stream body, (string Algorithm, byte[] Digest)? checksum, CancellationToken cancellationToken)
    {
        using var claim = ClaimUpload(id);
        var state = GetUpload(id) ?? throw new NotFoundException($"Upload {id} does not exist.");
        if (offset != state.Offset)
        {
            throw new ConflictException($"Upload {id} is at offset {state.Offset}, not {offset}.");
        }

        using var hash = checksum?.Algorithm switch
        {
            null => null,
            "sha1" => IncrementalHash.CreateHash(HashAlgorithmName.SHA1),
            "sha256" => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
            var other => throw new InvalidInputException($"Checksum algorithm '{other}' is not supported; use sha1 or sha256."),
        };
        await using var file = await UnbufferedFile.OpenAppendAsync(UploadPath(id), offset, create: false, cancellationToken).ConfigureAwait(false);
        var verifier = TakeUploadVerifier(id, offset);
        try
        {
            try
            {
                // The body is read straight into the file's aligned block: no copy in between.
                int read;
                while ((read = await body.ReadAsync(file.FreeSpace, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (file.Length + read > state.Limit)
                    {
                        throw new InvalidInputException(state.Length is { } length
                            ? $"Upload {id} would exceed its announced length of {length} bytes."
                            : $"Upload {id} would exceed the largest pack, {MaxUploadLength} bytes.");
                    }

                    hash?.AppendData(file.FreeSpace.Span[..read]);
                    verifier?.Append(file.FreeSpace.Span[..read]);
                    await file.AdvanceAsync(read, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception) when (hash is not null)
            {
                // With a checksum the PATCH is all or nothing.
                await file.TruncateAsync(offset, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            catch (Exception)
            {
                // Without, what arrived is kept and the client resumes after it.
                await file.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            if (hash is not null && !hash.GetHashAndReset().AsSpan().SequenceEqual(checksum!.Value.Digest))
            {
                await file.TruncateAsync(offset, CancellationToken.None).ConfigureAwait(false);
                throw new ChecksumMismatchException($"Upload {id}: the bytes at offset {offset} do not match their {checksum.Value.Algorithm} checksum.");
            }

            // No fsync here: after a crash the offset is the file's length, whatever reached the disk,
            // and the client resumes from it. The pack is synced once, when it is imported.
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            return file.Length;
        }
        finally
        {
            KeepUploadVerifier(id, verifier, file.Length);
        }
    }

    // The upload's verifier if it has seen exactly the bytes before offset; it is this request's alone until kept again.
    private PackStreamVerifier? TakeUploadVerifier(string id, long offset)
    {
        if (!_uploadVerifiers.TryRemove(id, out var verifier))
        {
            return null;
        }

        if (verifier.Position == offset)
        {
            return verifier;
        }

        verifier.Dispose();
        return null;
    }

    // Kept only while it has seen exactly the file's bytes (a truncated or failed PATCH makes it useless) and found nothing wrong.
    private void KeepUploadVerifier(string id, PackStreamVerifier? verifier, long fileLength)
    {
        if (verifier is not null && !(verifier.Position == fileLength && verifier.Problem is null && _uploadVerifiers.TryAdd(id, verifier)))
        {
            verifier.Dispose();
        }
    }

    // The entries the upload's bytes proved as they arrived, when they are exactly what the pack's
    // index says; else null, and the pack is read back and checked chunk by chunk.
    private PackEntry[]? EntriesProvenWhileReceived(string id, long length, byte[] index, long indexStart)
    {
        if (!_uploadVerifiers.TryRemove(id, out var verifier))
        {
            return null;
        }

        using (verifier)
        {
            if (verifier.Position != length || verifier.Problem is not null || verifier.DataEnd != indexStart)
            {
                return null;
            }

            try
            {
                var entries = PackFormat.DecodeIndex(index, indexStart);
                return entries.SequenceEqual(verifier.Entries) ? entries : null;
            }
            catch (CorruptDataException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Turns a complete upload into a stored, fully verified, indexed pack. A pack that fails any
    /// check is removed and reported; nothing of it is indexed. <c>ReadBack</c> says whether the
    /// pack had to be read again to verify it (its bytes did not all come through this process in order).
    /// </summary>
    public async Task<(PackRecord Pack, bool ReadBack)> FinishUploadAsync(string id, CancellationToken cancellationToken)
    {
        using var claim = ClaimUpload(id);
        var state = GetUpload(id) ?? throw new NotFoundException($"Upload {id} does not exist.");
        if (state.Length is not { } length || state.Offset != length)
        {
            throw new InvalidInputException($"Upload {id} has {state.Offset} of {state.Length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of"} bytes.");
        }

        byte[] index;
        long indexStart;
        try
        {
            (index, indexStart) = await ReadPackTailAsync(UploadPath(id), length, cancellationToken).ConfigureAwait(false);
        }
        catch (CorruptDataException)
        {
            DeleteUpload(id);
            throw;
        }

        var packId = PackFormat.PackId(index);
        var proven = EntriesProvenWhileReceived(id, length, index, indexStart);
        return await SettleStoreChangeAsync(async () =>
        {
            await Blobs.ImportFileAsync(PackFormat.BlobKey(packId), UploadPath(id), cancellationToken).ConfigureAwait(false);
            Db.Delete(Families.Uploads, System.Text.Encoding.ASCII.GetBytes(id));
            try
            {
                var expected = proven is null ? null : new PackSummary(packId, length, proven);
                return (await IndexPackAsync(packId, verifyData: proven is null, expected, cancellationToken).ConfigureAwait(false), proven is null);
            }
            catch (CorruptDataException)
            {
                if (!HasPack(packId))
                {
                    await Blobs.DeleteAsync(PackFormat.BlobKey(packId), cancellationToken).ConfigureAwait(false);
                }

                throw;
            }
        }).ConfigureAwait(false);
    }

    /// <summary>Makes <paramref name="id"/> this request's until disposed; a second request meanwhile gets a conflict.</summary>
    private UploadClaim ClaimUpload(string id)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _busyUploads.TryAdd(id, done)
            ? new UploadClaim(_busyUploads, id, done)
            : throw new ConflictException($"Upload {id} is busy with another request; ask for its offset (HEAD) once that one ends.");
    }

    private readonly struct UploadClaim(ConcurrentDictionary<string, TaskCompletionSource> busy, string id, TaskCompletionSource done) : IDisposable
    {
        public void Dispose()
        {
            busy.TryRemove(new KeyValuePair<string, TaskCompletionSource>(id, done));
            done.TrySetResult();
        }
    }

    /// <summary>
    /// The upload once no request is appending to or finishing it (waiting at most
    /// <paramref name="patience"/>): a client resuming after a crash asks where an upload stands
    /// while the server may still be finishing the request the crash cut off. Answered in the middle
    /// of the finish, the upload would seem gone (its file already moved into the store) while its
    /// chunks were not yet indexed, and the client would send them again.
    /// </summary>
    public async Task<UploadState?> GetUploadWhenIdleAsync(string id, TimeSpan patience, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + patience;
        while (_busyUploads.TryGetValue(id, out var busy) && DateTime.UtcNow < deadline)
        {
            try
            {
                await busy.Task.WaitAsync(deadline - DateTime.UtcNow, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                break; // still busy: answer with where it stands now
            }
        }

        return GetUpload(id);
    }

    public void DeleteUpload(string id)
    {
        if (!IsUploadId(id))
        {
            return;
        }

        File.Delete(UploadPath(id));
        Db.Delete(Families.Uploads, System.Text.Encoding.ASCII.GetBytes(id));
        if (_uploadVerifiers.TryRemove(id, out var verifier))
        {
            verifier.Dispose();
        }
    }

    /// <summary>Removes uploads older than <see cref="UploadExpiry"/>.</summary>
    internal void ExpireUploads()
    {
        long cutoff = NowUnixMs - (long)UploadExpiry.TotalMilliseconds;
        foreach (var (key, _) in Db.Scan(Families.Uploads).ToList())
        {
            string id = System.Text.Encoding.ASCII.GetString(key);
            if (GetUpload(id) is not { } state || state.CreatedUnixMs < cutoff)
            {
                DeleteUpload(id);
            }
        }
    }

    private static bool IsUploadId(string id) => id.Length == 32 && id.All(char.IsAsciiHexDigitLower);

    // The index of a pack in a local file (its id is the index's keyed hash), read from the tail.
    private static async Task<(byte[] Index, long IndexStart)> ReadPackTailAsync(string path, long length, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        return await PackReader.ReadTailAsync(async (offset, buffer, ct) =>
        {
            if (await RandomAccess.ReadAsync(handle, buffer, offset, ct).ConfigureAwait(false) != buffer.Length)
            {
                throw new CorruptDataException("The uploaded pack is truncated.");
            }
        }, length, "The uploaded pack", cancellationToken).ConfigureAwait(false);
    }
}
