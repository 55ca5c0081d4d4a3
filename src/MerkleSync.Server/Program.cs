using MerkleSync.Server.Hosting;

// Standalone server: MerkleSync.Server --root DIR [--listen URL] [--tokens FILE] [--log-format text|json] (ServerSettings.FromArgs)
// (the same server `merklesync serve` starts).
var settings = ServerSettings.FromArgs(args);
await using var app = ServerApp.Build(settings);
await app.RunAsync().ConfigureAwait(false);
