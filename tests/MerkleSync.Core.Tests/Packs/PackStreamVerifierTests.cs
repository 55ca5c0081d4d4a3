using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Packs;

public class PackStreamVerifierTests
{
    [Property(MaxTest = 40)]
    public async Task A_pack_fed_in_pieces_of_any_size_proves_exactly_its_index(NonNegativeInt seed, PositiveInt maxPiece)
    {
        var (pack, summary) = await WritePackAsync(seed.Get);

        using var verifier = Feed(pack, seed.Get, 1 + (maxPiece.Get % 200_000));

        Assert.Null(verifier.Problem);
        Assert.Equal(pack.Length, verifier.Position);
        Assert.Equal(summary.Entries, verifier.Entries);
        long indexStart = pack.Length - PackFormat.TrailerLength - (4 + (summary.Entries.Count * PackFormat.EntryLength));
        Assert.Equal(indexStart, verifier.DataEnd);
    }

    [Property(MaxTest = 40)]
    public async Task A_changed_byte_before_the_index_never_goes_unnoticed(NonNegativeInt seed, NonNegativeInt at, byte change)
    {
        var (pack, summary) = await WritePackAsync(seed.Get);
        long indexStart = pack.Length - PackFormat.TrailerLength - (4 + (summary.Entries.Count * PackFormat.EntryLength));
        pack[at.Get % indexStart] ^= (byte)(change | 1);

        using var verifier = Feed(pack, seed.Get, 70_000);

        // Either the bytes cannot be a pack, or what they prove is not what the index says.
        Assert.True(verifier.Problem is not null || verifier.DataEnd != indexStart || !verifier.Entries.SequenceEqual(summary.Entries));
    }

    // 1 to 30 chunks of up to 40 KB, some random (stored raw), some repetitive (stored as zstd).
    private static async Task<(byte[] Pack, PackSummary Summary)> WritePackAsync(int seed)
    {
        var random = new Random(seed);
        using var stream = new MemoryStream();
        var writer = new PackWriter(stream);
        for (int i = random.Next(1, 31); i > 0; i--)
        {
            byte[] chunk = random.Next(2) == 0
                ? SplitMix64.Bytes((ulong)random.Next(), random.Next(1, 40_000))
                : [.. Enumerable.Repeat((byte)random.Next(4), random.Next(300, 40_000))];
            await writer.AddAsync(XetHashes.ChunkHash(chunk), chunk, CancellationToken.None);
        }

        var summary = await writer.FinishAsync(CancellationToken.None);
        return (stream.ToArray(), summary);
    }

    private static PackStreamVerifier Feed(byte[] pack, int seed, int maxPiece)
    {
        var random = new Random(seed + 1);
        var verifier = new PackStreamVerifier();
        for (int at = 0; at < pack.Length;)
        {
            int piece = Math.Min(pack.Length - at, random.Next(1, maxPiece + 1));
            verifier.Append(pack.AsSpan(at, piece));
            at += piece;
        }

        return verifier;
    }
}
