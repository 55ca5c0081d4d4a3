using System.Text.Json.Serialization;
using MerkleSync.Core.Ingest;

namespace MerkleSync.Core.ClientState;

/// <summary>
/// The client state's JSON records, with their (de)serialization generated at build time: every
/// HTTP command reads the tokens file, and reflection-based JSON would build its metadata first.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<ChunkOrigin>))]
[JsonSerializable(typeof(ClientStateStore.UploadHead))]
internal sealed partial class ClientStateJson : JsonSerializerContext;
