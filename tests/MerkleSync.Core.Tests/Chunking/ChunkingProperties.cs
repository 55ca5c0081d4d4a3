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
