using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Chunking;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.Chunking;

/// <summary>Properties of the chunker over generated inputs (FsCheck shrinks any counterexample).</summary>
public class ChunkingProperties
{
    private const int Min = ChunkingParameters.MinimumChunkSize;
    private const int Max = ChunkingParameters.MaximumChunkSize;

    [Property(MaxTest = 60)]
    public void Chunks_concatenate_to_the_input_and_respect_the_size_limits(NonNegativeInt seed, NonNegativeInt length, bool lowEntropy)
    {
        byte[] data = Input(seed.Get, length.Get % (1 << 20), lowEntropy);

        var lengths = StreamChunker.ChunkLengths(data);

        Assert.Equal(data.Length, lengths.Sum());
        Assert.All(lengths, l => Assert.InRange(l, 1, Max));
        Assert.All(lengths.Take(lengths.Count - 1), l => Assert.InRange(l, Min, Max));
    }

    [Property(MaxTest = 40)]
    public async Task Boundaries_do_not_depend_on_read_sizes(NonNegativeInt seed, NonNegativeInt length, PositiveInt maxRead, bool lowEntropy)
    {
        byte[] data = Input(seed.Get, length.Get % (600 * 1024), lowEntropy);
        var expected = ContentHasher.Hash(data);

        // Short reads of 1 to maxRead bytes, and a buffer of the minimum size, force every refill path.
        var stream = new TricklingStream(data, seed.Get, 1 + (maxRead.Get % 70_000));
        var sink = new RecordingSink();
        long total = await StreamChunker.ChunkAsync(stream, sink, CancellationToken.None, bufferSize: 0);
        var streamed = await ContentHasher.HashAsync(new TricklingStream(data, seed.Get + 1, 1 + (maxRead.Get % 5000)), CancellationToken.None, hashThreads: 2);

        Assert.Equal(data.Length, total);
        Assert.Equal(expected.Chunks.Select(c => (int)c.Length), sink.Lengths);
        Assert.Equal(expected.Chunks, streamed.Chunks);
        Assert.Equal(expected.FileHash, streamed.FileHash);
    }

    [Property(MaxTest = 8)]
    public async Task Hashing_on_several_threads_gives_the_chunks_of_hashing_in_one_piece_across_many_batches(NonNegativeInt seed, PositiveInt maxRead, bool lowEntropy)
    {
        // Several of the 4 MiB batches that hashing threads take, so chunks cross from one to the next.
        byte[] data = Input(seed.Get, (13 << 20) + (seed.Get % 100_000), lowEntropy);

        var streamed = await ContentHasher.HashAsync(new TricklingStream(data, seed.Get, 1 + (maxRead.Get * 7919 % (3 << 20))), CancellationToken.None, hashThreads: 2);

        var expected = ContentHasher.Hash(data);
        Assert.Equal(expected.Chunks, streamed.Chunks);
        Assert.Equal((expected.FileHash, expected.Length), (streamed.FileHash, streamed.Length));
    }

    [Property(MaxTest = 40)]
    public void An_edit_keeps_the_chunks_before_it_and_resynchronises_after_it(NonNegativeInt seed, NonNegativeInt editAt, byte[] inserted, NonNegativeInt deleted)
    {
        byte[] original = SplitMix64.Bytes((ulong)seed.Get, 2 << 20);
        int at = (original.Length / 4) + (editAt.Get % (original.Length / 2));
        int removed = deleted.Get % 5000;
        byte[] edited = [.. original.AsSpan(0, at), .. inserted, .. original.AsSpan(at + removed)];
        int shift = inserted.Length - removed;

        var before = Boundaries(original);
        var after = Boundaries(edited);

        // Every boundary at or before the edit point survives unchanged...
        Assert.Equal(before.Where(b => b <= at), after.Where(b => b <= at));

        // ...and after the edit the two chunkings meet again and then agree to the end.
        var shiftedBefore = before.Where(b => b > at + removed).Select(b => b + shift).ToHashSet();
        int meet = after.FindIndex(b => b > at + inserted.Length && shiftedBefore.Contains(b));
        Assert.True(meet >= 0, "chunking never resynchronised after the edit");
        Assert.Equal(before.Where(b => b >= after[meet] - shift).Select(b => b + shift), after.Skip(meet));
    }

    [Property(MaxTest = 60)]
    public async Task Runs_of_zeros_are_cut_and_hashed_as_byte_by_byte_hashing_cuts_them(NonNegativeInt seed, PositiveInt[] runs, PositiveInt maxRead)
    {
        // Random bytes with runs of zeros of every kind of length: at the hash window (64) and just
        // past it, below and above the chunk sizes, and megabytes long (a sparse file's hole).
        var random = new Random(seed.Get);
        var data = new List<byte>(SplitMix64.Bytes((ulong)seed.Get, random.Next(0, 200_000)));
        foreach (var run in runs.Take(6))
        {
            int length = (run.Get % 7) switch
            {
                0 => 63 + (run.Get % 4),
                1 => Min - 66 + (run.Get % 4),
                2 => Max + (run.Get % 3) - 1,
                3 => (2 << 20) + (run.Get % 1000),
                _ => run.Get % (3 * Max),
            };
            data.AddRange(new byte[length]);
            data.AddRange(SplitMix64.Bytes((ulong)run.Get, random.Next(0, 3) * random.Next(1, 100_000)));
        }

        byte[] input = [.. data];
        var expected = NaiveBoundaries(input);

        Assert.Equal(expected, Boundaries(input));
        var streamed = await ContentHasher.HashAsync(new TricklingStream(input, seed.Get, 4096 + (maxRead.Get * 997 % 300_000)), CancellationToken.None, hashThreads: 2);
        var expectedHashes = new List<Hash>();
        int start = 0;
        foreach (int end in expected)
        {
            expectedHashes.Add(XetHashes.ChunkHash(input.AsSpan(start, end - start)));
            start = end;
        }

        Assert.Equal(expectedHashes, streamed.Chunks.Select(c => c.Hash));
    }

    [Fact]
    public void Cuts_in_the_first_bytes_of_a_run_of_zeros_and_just_after_it_are_where_byte_by_byte_hashing_puts_them()
    {
        // Only the 64 bytes that enter a run and the 64 after it depend on the hash the run starts or
        // ends with, and a cut there is a 1-in-1000 chance: search for inputs with each kind. The
        // input arrives in two pieces split where the run starts, so the chunker meets the run at
        // the start of a piece; the run is long enough for a chunk to start inside it.
        const int RunStart = Min + 100, RunEnd = Max + Min + 200;
        bool inside = false, after = false;
        for (ulong seed = 0; seed < 20_000 && !(inside && after); seed++)
        {
            byte[] data = [.. SplitMix64.Bytes(seed, RunStart), .. new byte[RunEnd - RunStart], .. SplitMix64.Bytes(seed + (1UL << 32), 100)];
            var naive = NaiveBoundaries(data);
            bool cutInside = naive.Exists(b => b > RunStart && b <= RunStart + 64);
            bool cutAfter = naive.Exists(b => b > RunEnd && b <= RunEnd + 64);
            if (cutInside || cutAfter)
            {
                Assert.Equal(naive, BoundariesFedInTwoPieces(data, RunStart));
                (inside, after) = (inside || cutInside, after || cutAfter);
            }
        }

        Assert.True(inside && after, "no input with both kinds of cut was found");
    }

    private static List<int> BoundariesFedInTwoPieces(byte[] data, int split)
    {
        var ends = new List<int>();
        var chunker = GearChunker.Create();
        foreach (var (from, to) in new[] { (0, split), (split, data.Length) })
        {
            for (int at = from, boundary; at < to && (boundary = chunker.NextBoundary(data.AsSpan(at, to - at))) >= 0;)
            {
                at += boundary;
                ends.Add(at);
            }
        }

        if (ends.LastOrDefault() < data.Length)
        {
            ends.Add(data.Length);
        }

        return ends;
    }

    /// <summary>Xet's chunking as its definition reads: the gear hash of every byte, cut at a match once the minimum is reached, or at the maximum.</summary>
    private static List<int> NaiveBoundaries(byte[] data)
    {
        var ends = new List<int>();
        int start = 0;
        ulong hash = 0;
        for (int i = 0; i < data.Length; i++)
        {
            hash = (hash << 1) + GearTable.Values[data[i]];
            int length = i + 1 - start;
            if ((length >= Min && (hash & ChunkingParameters.BoundaryMask) == 0) || length == Max)
            {
                ends.Add(i + 1);
                start = i + 1;
                hash = 0;
            }
        }

        if (start < data.Length)
        {
            ends.Add(data.Length);
        }

        return ends;
    }

    private static List<int> Boundaries(byte[] data)
    {
        int end = 0;
        return [.. StreamChunker.ChunkLengths(data).Select(l => end += l)];
    }

    // Random bytes, or text-like bytes from a small alphabet with long runs, which stresses min/max cuts.
    private static byte[] Input(int seed, int length, bool lowEntropy)
    {
        byte[] data = SplitMix64.Bytes((ulong)seed, length);
        if (lowEntropy)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (i / 97 % 5 == 0) ? (byte)0 : (byte)('a' + (data[i] % 4));
            }
        }

        return data;
    }

    private sealed class RecordingSink : IChunkSink
    {
        private long _expectedOffset;

        public List<int> Lengths { get; } = [];

        public ValueTask OnChunkAsync(ReadOnlyMemory<byte> chunk, long offset, CancellationToken cancellationToken)
        {
            Assert.Equal(_expectedOffset, offset);
            _expectedOffset += chunk.Length;
            Lengths.Add(chunk.Length);
            return ValueTask.CompletedTask;
        }
    }
}
