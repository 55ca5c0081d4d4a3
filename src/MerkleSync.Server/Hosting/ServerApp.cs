using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MerkleSync.Core.Backends;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync.Protocol;
using MerkleSync.Server.Endpoints;
using MerkleSync.Server.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;

namespace MerkleSync.Server.Hosting;

/// <summary>Builds the sync server: Kestrel, the dataset registry, auth, access log, error mapping and endpoints.</summary>
public static partial class ServerApp
{
    /// <summary>ISO 8601 in UTC to the millisecond, as log collectors parse it.</summary>
    private const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    public static WebApplication Build(ServerSettings settings)
    {
        if (settings.Listen.FirstOrDefault(url => !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) is { } bad)
        {
            throw new InvalidInputException($"'{bad}' is not a listen URL; use http://HOST:PORT or https://HOST:PORT.");
        }

        if (File.Exists(settings.Root))
        {
            throw new InvalidInputException($"The root '{settings.Root}' is a file; the server keeps its datasets in a folder.");
        }

        var tokens = settings.TokensFile is { } file ? TokenStore.Load(file) : null;
        if (tokens is null && settings.Listen.Any(url => !IsLoopback(url)))
        {
            throw new InvalidInputException("Without --tokens the server only listens on loopback addresses (127.0.0.1, [::1], localhost); give a token file to serve other hosts.");
        }

        var certificate = LoadCertificate(settings);
        if (certificate is null && settings.Listen.Any(url => url.StartsWith("https:", StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidInputException("An https:// listen URL needs --tls-cert and --tls-key.");
        }

        try
        {
            Directory.CreateDirectory(settings.Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"Cannot use '{settings.Root}' as the server's root folder: {e.Message}", e);
        }

        // The server reads no appsettings.json; left on, reloading it watches every folder under the
        // working directory (inotify on Linux), and every file written there costs the server CPU.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.WebHost.UseUrls([.. settings.Listen]);
        builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves https:// URLs out otherwise
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = Repository.MaxUploadLength + (1 << 20);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(30);
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(30));
            if (certificate is not null)
            {
                kestrel.ConfigureHttpsDefaults(https =>
                {
                    https.ServerCertificate = certificate;
                    https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                });
            }
        });
        builder.Logging.ClearProviders();
        if (settings.LogFormat == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = TimestampFormat;
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = TimestampFormat + " ";
                o.UseUtcTimestamp = true;
            });
        }

        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace); // stdout stays for command output
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // A server that cannot start (say, its port is taken) is reported once, by the caller, not also as a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (settings.Quiet)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        }
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.Services.AddSingleton(new DatasetRegistry(settings.Root, settings.PackStore));
        if (settings.PackStore is { } packStore)
        {
            // Before the server listens: a mistyped bucket or missing credentials stop it at once, not at its first dataset.
            builder.Services.AddHostedService(_ => new PackStoreCheck(packStore));
        }

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

        // Set as the answer starts, so that error answers written after a Clear() carry it too.
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static response =>
            {
                ((HttpResponse)response).Headers[WireFormat.ProtocolHeader] = WireFormat.ProtocolVersion;
                return Task.CompletedTask;
            }, context.Response);
            return next(context);
        });
        app.Use(AccessLog.Middleware(logger));
        app.Use(ErrorMapping.Middleware);
        app.Use(Security.Authorization.Middleware(tokens));
        app.UseHttpMetrics();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapMetrics("/metrics");
        app.MapOpenApi("/openapi/v1.json");
        DatasetEndpoints.Map(app);
        UploadEndpoints.Map(app);
        // A remote URL with a folder before the dataset, or a mistyped one, reaches no endpoint:
        // say so in the error body rather than with an empty 404.
        app.MapFallback("{*path}", context => Task.FromException(new NotFoundException(
            $"No such endpoint: {context.Request.Method} {context.Request.Path}. A remote on this server is http(s)://HOST:PORT/DATASET, the dataset's name right after the port.")));
        app.Lifetime.ApplicationStopped.Register(() => app.Services.GetRequiredService<DatasetRegistry>().DisposeAsync().AsTask().GetAwaiter().GetResult());
        return app;
    }

    /// <summary>The first address a started server listens on (with its real port when it was given port 0).</summary>
    public static string BaseUrl(WebApplication app) =>
        app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();

    private static X509Certificate2? LoadCertificate(ServerSettings settings)
    {
        if (settings.TlsCertFile is null && settings.TlsKeyFile is null)
        {
            return null;
        }

        if (settings.TlsCertFile is null || settings.TlsKeyFile is null)
        {
            throw new InvalidInputException("--tls-cert and --tls-key go together.");
        }

        try
        {
            // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
            using var pem = X509Certificate2.CreateFromPemFile(settings.TlsCertFile, settings.TlsKeyFile);
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException)
        {
            throw new InvalidInputException($"Cannot load the TLS certificate: {e.Message}", e);
        }
    }

    private static bool IsLoopback(string url)
    {
        var host = new Uri(url).Host.Trim('[', ']');
        return host == "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "No token file: serving without authentication, on loopback only ({Listen}).")]
    private static partial void LogOpenAccess(ILogger logger, string listen);

    /// <summary>Lists the pack store once as the server starts (hosted services start before Kestrel listens).</summary>
    private sealed class PackStoreCheck(S3Location packStore) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => S3BlobStore.CheckAccessAsync(packStore, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
