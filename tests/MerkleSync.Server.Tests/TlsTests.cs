using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MerkleSync.Core.Restore;
using MerkleSync.Core.Sync;

namespace MerkleSync.Server.Tests;

public class TlsTests : FolderTests
{
    [Fact]
    public async Task Https_works_with_a_private_CA_and_fails_fast_without_it()
    {
        string folder = NewFolder();
        var (caFile, certFile, keyFile) = MakeCertificates(folder);
        await using var server = await TestServer.StartAsync(tls: (certFile, keyFile));
        Assert.StartsWith("https://", server.BaseUrl, StringComparison.Ordinal);
        string source = NewFolder(), target = NewFolder();
        Files.Write(source, "x.bin", Files.Random(1, 200_000));

        await using (var remote = new HttpRemote(new Uri(server.DatasetUrl("ds")), null, caCertFile: caFile))
        {
            await remote.CreateAsync(CancellationToken.None);
            await PushOperation.PushAsync(source, remote, new PushOptions(), CancellationToken.None);
            await PullOperation.PullAsync(remote, target, new PullOptions(), CancellationToken.None);
        }

        Files.AssertSameTree(source, target);
        await using var untrusting = new HttpRemote(new Uri(server.DatasetUrl("ds")), null);
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<HttpRequestException>(async () => await untrusting.GetBranchAsync("main", CancellationToken.None));
        Assert.Equal(HttpRequestError.SecureConnectionError, error.HttpRequestError);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "a certificate failure must not be retried");
    }

    private static (string Ca, string Cert, string Key) MakeCertificates(string folder)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=MerkleSync Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var serverCert = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), [1, 2, 3, 4]);

        string caFile = Path.Combine(folder, "ca.pem"), certFile = Path.Combine(folder, "server.pem"), keyFile = Path.Combine(folder, "server.key");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        File.WriteAllText(certFile, serverCert.ExportCertificatePem());
        File.WriteAllText(keyFile, serverKey.ExportPkcs8PrivateKeyPem());
        return (caFile, certFile, keyFile);
    }
}
