using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;
using MerkleSync.Core.Packs;
using MerkleSync.Core.Sync;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Core.Tree;
using MerkleSync.Testing;

namespace MerkleSync.Core.Tests.Sync;

/// <summary>
/// What a client decodes from a server it cannot trust (a broken proxy, a bit flip, a hostile
/// host): valid answers, damaged at random, are read back as they were or refused with
/// <see cref="CorruptDataException"/>, never with another exception that a user would see as a crash.
/// </summary>
public class WireFormatDecodingTests
{
    private static readonly Hash FileHash = XetHashes.ChunkHash("file"u8);
    private static readonly Hash PackId = XetHashes.ChunkHash("pack"u8);
    private static readonly byte[] Leaf = TreeNode.Leaf([new TreeEntry("x", FileHash, 7, EntryMode.Regular)]).Encode();
    private static readonly Hash LeafId = TreeFormat.NodeId(Leaf);

    private static readonly VersionRecord Record = new(LeafId, Hash.Zero, 1_764_000_000_000, "me", "a message", 1, 7, 7);

    [Property(MaxTest = 400)]
    public void A_damaged_reconstructions_answer_is_refused_or_read_as_sent(NonNegativeInt seed)
    {
        var entries = new PackEntry[]
        {
            new(XetHashes.ChunkHash("a"u8), PackFormat.FirstChunkOffset, 100, 100, Codec.None, 1),
            new(XetHashes.ChunkHash("b"u8), PackFormat.FirstChunkOffset + 100 + PackFormat.FrameHeaderLength, 50, 300, Codec.Lz4, 2),
        };
        var answer = new System.Buffers.ArrayBufferWriter<byte>();
        WireFormat.AppendReconstruction(answer, new FileReconstruction(FileHash, 400, [(PackId, entries)]));
        byte[] sent = answer.WrittenSpan.ToArray();

        AssertRefusedOrSame(Damage.Apply(new Random(seed.Get), sent), body =>
        {
            var plan = Assert.Single(WireFormat.DecodeReconstructions(body, [FileHash]));
            var answerAgain = new System.Buffers.ArrayBufferWriter<byte>();
            WireFormat.AppendReconstruction(answerAgain, plan);
            return answerAgain.WrittenSpan.ToArray();
        });
    }

    [Property(MaxTest = 400)]
    public void A_damaged_node_lookup_answer_is_refused_or_read_as_sent(NonNegativeInt seed)
    {
        byte[] sent = WireFormat.EncodeNodes([new(LeafId, Leaf)]).ToArray();
        AssertRefusedOrSame(Damage.Apply(new Random(seed.Get), sent), body => WireFormat.EncodeNodes(WireFormat.DecodeNodeLookup(body, [LeafId])).ToArray());
    }

    [Property(MaxTest = 200)]
    public void A_damaged_bitmap_is_refused_or_read_without_a_crash(NonNegativeInt seed)
    {
        byte[] sent = WireFormat.EncodeMissing([true, false, true, true, false, false, true, false, true, true, false]);
        AssertRefusedOrSame(Damage.Apply(new Random(seed.Get), sent), body => WireFormat.EncodeMissing(WireFormat.DecodeHave(body, 11)), mayReadDifferently: true);
    }

    [Property(MaxTest = 400)]
    public void A_damaged_version_json_is_refused_or_read_without_a_crash(NonNegativeInt seed)
    {
        byte[] sent = Encoding.UTF8.GetBytes(WireFormat.VersionJson(new VersionRef(Record.Id, Record)).ToJsonString());
        AssertRefusedOrSame(Damage.Apply(new Random(seed.Get), sent), body =>
        {
            JsonNode? json;
            try
            {
                json = JsonNode.Parse(Encoding.UTF8.GetString(body)); // as HttpRemote reads an answer
            }
            catch (System.Text.Json.JsonException)
            {
                throw new CorruptDataException("not JSON"); // HttpRemote's refusal, before ParseVersion
            }

            var version = WireFormat.ParseVersion(json);
            return Encoding.UTF8.GetBytes(WireFormat.VersionJson(version).ToJsonString());
        }, mayReadDifferently: true);
    }

    [Theory]
    [InlineData("{\"record\":5,\"record_bytes\":\"AA==\"}")]
    [InlineData("{\"record\":\"zz\",\"record_bytes\":\"AA==\"}")]
    [InlineData("{\"record\":\"00\",\"record_bytes\":\"not base64!\"}")]
    [InlineData("{\"record\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"record_bytes\":\"not base64!\"}")]
    [InlineData("{\"record\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"record_bytes\":\"AAAA\"}")]
    [InlineData("{\"record\":[],\"record_bytes\":{}}")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    public void A_version_json_of_the_wrong_shape_is_refused_as_corrupt(string json)
    {
        Assert.Throws<CorruptDataException>(() => WireFormat.ParseVersion(JsonNode.Parse(json)));
    }

    /// <summary>
    /// Decodes <paramref name="received"/> and encodes what it read again: a refusal must be a
    /// <see cref="CorruptDataException"/>, and what is accepted must encode back to the bytes received.
    /// With <paramref name="mayReadDifferently"/> (a bitmap, where a flipped bit is another valid
    /// answer; JSON, whose escapes re-encode differently) only the absence of another exception is asked.
    /// </summary>
    private static void AssertRefusedOrSame(byte[] received, Func<byte[], byte[]> decodeAndEncodeAgain, bool mayReadDifferently = false)
    {
        byte[] again;
        try
        {
            again = decodeAndEncodeAgain(received);
        }
        catch (CorruptDataException)
        {
            return;
        }

        if (!mayReadDifferently)
        {
            Assert.Equal(received, again);
        }
    }
}
