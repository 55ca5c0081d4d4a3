using MerkleSync.Core.Errors;

namespace MerkleSync.Core.Backends;

/// <summary>
/// A bucket and key prefix, written as restic writes them: <c>s3://BUCKET[/PREFIX]</c> on AWS
/// (region from AWS_REGION, else us-east-1), or <c>s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]</c>
/// on any S3-compatible server (path-style requests). Never holds credentials.
/// </summary>
public sealed record S3Location(Uri? Endpoint, string Bucket, string Prefix, string Region)
{
    public static bool IsS3(string text) => text.StartsWith("s3://", StringComparison.Ordinal) || text.StartsWith("s3:http://", StringComparison.Ordinal) || text.StartsWith("s3:https://", StringComparison.Ordinal);

    public static S3Location Parse(string text)
    {
        string region = Environment.GetEnvironmentVariable("AWS_REGION") is { Length: > 0 } r ? r
            : Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") is { Length: > 0 } d ? d : "us-east-1";
        Uri? endpoint = null;
        string path;
        if (text.StartsWith("s3://", StringComparison.Ordinal))
        {
            path = text["s3://".Length..];
        }
        else if (IsS3(text) && Uri.TryCreate(text["s3:".Length..], UriKind.Absolute, out var uri) && uri.Query.Length == 0 && uri.UserInfo.Length == 0)
        {
            endpoint = new Uri(uri.GetLeftPart(UriPartial.Authority));
            path = uri.AbsolutePath.TrimStart('/');
        }
        else
        {
            throw new InvalidInputException($"'{text}' is not an S3 location: use s3://BUCKET[/PREFIX] or s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] (credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or an AWS profile, never from the location).");
        }

        string[] parts = path.TrimEnd('/').Split('/');
        string bucket = parts[0];
        if (bucket.Length is < 3 or > 63 || !bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-'))
        {
            throw new InvalidInputException($"'{text}' does not name a valid S3 bucket ('{bucket}': 3-63 characters of a-z, 0-9, '.' and '-').");
        }

        var location = new S3Location(endpoint, bucket, "", region);
        return parts.Skip(1).Aggregate(location, (at, segment) => at.Child(segment));
    }

    /// <summary>The location of <paramref name="name"/> under this one (a dataset's packs under a server's store).</summary>
    public S3Location Child(string name)
    {
        if (name.Length == 0 || name is "." or ".." || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new InvalidInputException($"'{name}' cannot be part of an S3 key prefix (letters, digits, '.', '_' and '-').");
        }

        return this with { Prefix = Prefix + name + "/" };
    }

    public override string ToString() =>
        (Endpoint is { } e ? $"s3:{e.GetLeftPart(UriPartial.Authority)}/" : "s3://") + Bucket + (Prefix.Length == 0 ? "" : "/" + Prefix.TrimEnd('/'));
}
