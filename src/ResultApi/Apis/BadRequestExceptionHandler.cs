using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// A request the endpoints' binding refused (a body that is not the JSON the endpoint takes, a required parameter missing)
/// answers 400 with where it went wrong: System.Text.Json's words name the JSON path and position, or the converter's own
/// reason (an <c>explain</c> that is neither true nor an object). By default minimal APIs answer a bare "Bad Request",
/// which leaves a hand-written client guessing. Bound only because <c>RouteHandlerOptions.ThrowOnBadRequest</c> is set.
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException refused)
        {
            return ValueTask.FromResult(false);
        }

        var json = Innermost<JsonException>(refused);
        return Problems.TryWriteAsync(problems, httpContext, exception, new ProblemDetails
        {
            Status = refused.StatusCode,
            Title = refused.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => "Request body too large",
                _ when json is not null => "Invalid request body",
                _ => "Bad request",
            },
            // The deserializer's message names the path, line and byte of the fault; never the body's values.
            Detail = json?.Message ?? refused.Message,
        });
    }

    private static T? Innermost<T>(Exception exception) where T : Exception
    {
        T? found = null;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            found = e as T ?? found;
        }

        return found;
    }
}
