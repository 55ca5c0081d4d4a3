using MerkleSync.Testing;

namespace MerkleSync.Cli.Tests;

/// <summary>`init --pack-store`: a file:// repository whose packs live in S3 (a real s3rver on loopback), through the real executable.</summary>
public class S3PackStoreCliTests
{
    [Fact]
    public async Task Push_pull_verify_and_gc_keep_the_packs_in_the_bucket()
    {
        await using var s3 = await S3TestServer.StartAsync(); // also sets the AWS credentials the CLI inherits
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data"), copy = Path.Combine(dir.Path, "copy");
        var random = new Random(7);
        byte[] big = new byte[400_000], other = new byte[300_000];
        random.NextBytes(big);
        random.NextBytes(other);
        dir.Write("data/big.bin", big);
        dir.Write("data/readme.txt", "hello\n"u8.ToArray());
        string packs = Path.Combine(s3.DataFolder, S3TestServer.Bucket, "cli", "packs");

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo, "--pack-store", s3.Location("cli"))).ExitCode);
        CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "-m", "first", "--json"));
        dir.Write("data/big.bin", other);
        CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--branch", "scratch", "-m", "scratch", "--json"));
        var pulled = CliRunner.Json(await CliRunner.RunAsync("pull", repo, copy, "--branch", "scratch", "--json"));
        var verify = CliRunner.Json(await CliRunner.RunAsync("verify", repo, "--read-data", "--json"));
        int packsBefore = Directory.GetFiles(packs, "*.pack._S3rver_object", SearchOption.AllDirectories).Length;
        Assert.Equal(0, (await CliRunner.RunAsync("branch", repo, "scratch", "--delete")).ExitCode);
        var gc = CliRunner.Json(await CliRunner.RunAsync("gc", repo, "--grace", "0s", "--json"));

        Assert.Equal(2, pulled.GetProperty("files_written").GetInt32());
        Assert.Equal(other, File.ReadAllBytes(Path.Combine(copy, "big.bin")));
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.Equal(2, packsBefore);
        Assert.Equal(1, gc.GetProperty("packs_deleted").GetInt32());
        Assert.Single(Directory.GetFiles(packs, "*.pack._S3rver_object", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(dir.Path, "repo"), "*.pack", SearchOption.AllDirectories));
        Assert.True(CliRunner.Json(await CliRunner.RunAsync("verify", repo, "--read-data", "--json")).GetProperty("ok").GetBoolean());
    }

    [Theory]
    [InlineData("s3://", "valid S3 bucket")]
    [InlineData("s3://Bad_Bucket/x", "valid S3 bucket")]
    [InlineData("ftp://host/bucket", "not an S3 location")]
    public async Task A_bad_pack_store_is_refused_and_no_repository_is_made(string store, string message)
    {
        using var dir = new TempDirectory();
        string repo = Path.Combine(dir.Path, "repo");

        var result = await CliRunner.RunAsync("init", "file://" + repo, "--pack-store", store);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(repo));
    }

    [Fact]
    public async Task Serve_with_a_bucket_that_does_not_exist_stops_at_once_naming_it()
    {
        await using var s3 = await S3TestServer.StartAsync();
        using var dir = new TempDirectory();
        string missing = s3.Location("x").Replace(S3TestServer.Bucket, "no-such-bucket", StringComparison.Ordinal);

        var result = await CliRunner.RunAsync("serve", "--root", Path.Combine(dir.Path, "root"), "--listen", "http://127.0.0.1:0", "--pack-store", missing);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'no-such-bucket' does not exist", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_credentials_init_says_so_and_makes_no_repository()
    {
        await using var s3 = await S3TestServer.StartAsync();
        using var dir = new TempDirectory();
        string repo = Path.Combine(dir.Path, "repo");

        // No credentials anywhere; the SDK must not look for an instance role off this machine either.
        var result = await CliRunner.RunProgramAsync(null, "env",
            ["-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED=true", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_CONFIG_FILE=/nonexistent",
             .. CliRunner.CommandLine("init", "file://" + repo, "--pack-store", s3.Location("x"))]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("credentials", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(s3.Location("x"), result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(repo));
    }
}
