using System.Net;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Repository;
using MerkleSync.Server.Endpoints;
using MerkleSync.Server.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;

namespace MerkleSync.Server.Hosting;

/// <summary>Builds the sync server: Kestrel, the dataset registry, auth, access log, error mapping and endpoints.</summary>
public static partial class ServerApp
{
    public static WebApplication Build(ServerSettings settings)
    {
        var tokens = settings.TokensFile is { } file ? TokenStore.Load(file) : null;
        if (tokens is null && settings.Listen.Any(url => !IsLoopback(url)))
        {
            throw new InvalidInputException("Without --tokens the server only listens on loopback addresses (127.0.0.1, [::1], localhost); give a token file to serve other hosts.");
        }

        Directory.CreateDirectory(settings.Root);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls([.. settings.Listen]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = Repository.MaxUploadLength + (1 << 20);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(30);
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(30));
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        builder.Services.AddSingleton(new DatasetRegistry(settings.Root));
        builder.Services.AddOpenApi();
        if (tokens is not null)
        {
            builder.Services.AddSingleton(tokens);
        }

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MerkleSync.Access");
        if (tokens is null)
        {
            LogOpenAccess(logger, string.Join(", ", settings.Listen));
        }

        app.Use(AccessLog.Middleware(logger));
        app.Use(ErrorMapping.Middleware);
        app.Use(Security.Authorization.Middleware(tokens));
        app.UseHttpMetrics();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapMetrics("/metrics");
        app.MapOpenApi("/openapi/v1.json");
        DatasetEndpoints.Map(app);
        UploadEndpoints.Map(app);
        app.Lifetime.ApplicationStopped.Register(() => app.Services.GetRequiredService<DatasetRegistry>().DisposeAsync().AsTask().GetAwaiter().GetResult());
        return app;
    }

    private static bool IsLoopback(string url)
    {
        var host = new Uri(url).Host.Trim('[', ']');
        return host == "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "No token file: serving without authentication, on loopback only ({Listen}).")]
    private static partial void LogOpenAccess(ILogger logger, string listen);
}
