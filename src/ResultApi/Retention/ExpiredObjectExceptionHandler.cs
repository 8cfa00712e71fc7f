using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Diagnostics;

namespace AIaaS.Queue.ResultApi.Retention;

/// <summary>Turns a read of swept content that no endpoint checked for first (a file streamed into an OpenAI batch answer,
/// results read while the sweeper removed them) into 410 Gone with the time it expired, while nothing has been sent yet.</summary>
internal sealed class ExpiredObjectExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken) =>
        exception is StoredObjectExpiredException expired
            ? Problems.TryWriteAsync(problems, httpContext, exception, Problems.GoneDetails("Expired", expired.Message, expired.ExpiredAt))
            : ValueTask.FromResult(false);
}
