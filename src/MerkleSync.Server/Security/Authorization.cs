using MerkleSync.Server.Hosting;

namespace MerkleSync.Server.Security;

/// <summary>
/// Bearer-token checks per dataset: reads (GET, HEAD, negotiation) need read access, everything
/// that changes a dataset needs write access. 401 without a known token, 403 without the scope.
/// </summary>
internal static class Authorization
{
    public static Func<HttpContext, RequestDelegate, Task> Middleware(TokenStore? tokens) => async (context, next) =>
    {
        string path = context.Request.Path.Value ?? "";
        if (tokens is null || !path.StartsWith("/v1/datasets/", StringComparison.Ordinal))
        {
            context.Items[AccessLog.UserItem] = tokens is null ? "anonymous" : "-";
            await next(context).ConfigureAwait(false);
            return;
        }

        string dataset = path["/v1/datasets/".Length..].Split('/')[0];
        string header = context.Request.Headers.Authorization.ToString();
        var who = header.StartsWith("Bearer ", StringComparison.Ordinal) ? tokens.Authenticate(header["Bearer ".Length..].Trim(), dataset) : null;
        if (who is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = "a valid bearer token is required" }).ConfigureAwait(false);
            return;
        }

        context.Items[AccessLog.UserItem] = who.Value.Name;
        var needed = IsRead(context.Request.Method, path[("/v1/datasets/".Length + dataset.Length)..]) ? Access.Read : Access.Write;
        if (who.Value.Access < needed)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = $"token '{who.Value.Name}' may not {(needed == Access.Write ? "write to" : "read")} dataset '{dataset}'" }).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    };

    /// <summary>
    /// Whether a request only reads. <paramref name="endpoint"/> is the path after the dataset's
    /// name: matched from its start, so a dataset, branch or tag name cannot make a write look like
    /// a read.
    /// </summary>
    private static bool IsRead(string method, string endpoint) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || (HttpMethods.IsPost(method) && (endpoint.StartsWith("/missing/", StringComparison.Ordinal) || endpoint is "/files/reconstructions" or "/nodes/lookup"));
}
