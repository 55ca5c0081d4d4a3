using MerkleSync.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace MerkleSync.Server.Tests;

/// <summary>A real Kestrel server on a free loopback port, over a temporary root.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, string root)
    {
        _app = app;
        Root = root;
        BaseUrl = ServerApp.BaseUrl(app);
    }

    public string Root { get; }

    public string BaseUrl { get; }

    public IServiceProvider Services => _app.Services;

    public string DatasetUrl(string dataset) => $"{BaseUrl}/{dataset}";

    public static async Task<TestServer> StartAsync(string? tokensJson = null, (string Cert, string Key)? tls = null, string? packStore = null)
    {
        string root = Directory.CreateTempSubdirectory("merklesync-server-").FullName;
        string? tokens = null;
        if (tokensJson is not null)
        {
            tokens = Path.Combine(root, "tokens.json");
            await File.WriteAllTextAsync(tokens, tokensJson);
        }

        var app = ServerApp.Build(new ServerSettings(Path.Combine(root, "datasets"), [tls is null ? "http://127.0.0.1:0" : "https://127.0.0.1:0"], tokens, tls?.Cert, tls?.Key, PackStore: packStore is null ? null : Core.Backends.S3Location.Parse(packStore)));
        await app.StartAsync();
        return new TestServer(app, root);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
