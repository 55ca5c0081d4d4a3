using MerkleSync.Core.Errors;
using MerkleSync.Core.Repository;
using Microsoft.AspNetCore.Http.Features;

namespace MerkleSync.Server.Hosting;

/// <summary>Engine errors become status codes with a JSON body <c>{"error": "…"}</c>; nothing else leaks.</summary>
internal static partial class ErrorMapping
{
    public const int ChecksumMismatch = 460; // tus checksum extension

    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && e is not OperationCanceledException)
        {
            int status = e switch
            {
                ChecksumMismatchException => ChecksumMismatch,
                InvalidInputException => StatusCodes.Status400BadRequest,
                NotFoundException => StatusCodes.Status404NotFound,
                ConflictException => StatusCodes.Status409Conflict,
                CorruptDataException => StatusCodes.Status422UnprocessableEntity,
                StoreUnavailableException => StatusCodes.Status503ServiceUnavailable,
                BadHttpRequestException bad => bad.StatusCode,
                _ when OutOfSpaceException.IsCause(e) => StatusCodes.Status507InsufficientStorage,
                _ => StatusCodes.Status500InternalServerError,
            };
            string message = status switch
            {
                500 => "internal error",
                503 => "the server's pack store is unavailable; nothing of this request was published (an upload keeps the bytes it received and resumes). Try again later.",
                // Server paths stay private; say what happened and what a retry needs.
                507 => "the server is out of storage space; nothing of this request was published (an upload keeps the bytes it stored and resumes). Free space on the server, then try again.",
                _ => e.Message,
            };
            if (status is 500 or 503 or 507)
            {
                LogFailure(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MerkleSync.Errors"), e);
            }

            context.Response.Clear();
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message }).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Request failed")]
    private static partial void LogFailure(ILogger logger, Exception exception);

    /// <summary>Caps a request body below the server-wide limit.</summary>
    public static void LimitBody(HttpContext context, long maxBytes)
    {
        if (context.Request.ContentLength > maxBytes)
        {
            throw new BadHttpRequestException($"Request body is larger than {maxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = maxBytes;
        }
    }
}
