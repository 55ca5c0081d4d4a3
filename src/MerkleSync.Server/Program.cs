// The sync server. For now it only answers health checks; the protocol arrives with the
// repository engine (see docs/format.md).
var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();

app.MapGet("/healthz", () => Results.Text("ok\n"));

await app.RunAsync().ConfigureAwait(false);
