using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AIaaS.Queue.ResultApi.Apis;

internal static class Problems
{
    /// <summary>An RFC 9457 problem response (<c>application/problem+json</c>).</summary>
    public static ProblemHttpResult Create(int status, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails { Status = status, Title = title, Detail = detail });

    /// <summary>413 for a tenant past its storage quota, with the numbers in <paramref name="reason"/>.</summary>
    public static ProblemHttpResult QuotaExceeded(string reason) =>
        Create(StatusCodes.Status413PayloadTooLarge, "Storage quota exceeded", reason);

    /// <summary>410 Gone for something removed under its tenant's retention, with the time it expired in <c>expiredAt</c>.</summary>
    public static ProblemHttpResult Gone(string title, string detail, DateTimeOffset expiredAt) =>
        TypedResults.Problem(GoneDetails(title, detail, expiredAt));

    /// <summary>For an <see cref="Microsoft.AspNetCore.Diagnostics.IExceptionHandler"/>: answers <paramref name="details"/>
    /// (its status too) for <paramref name="exception"/>, unless the response has started.</summary>
    public static async ValueTask<bool> TryWriteAsync(IProblemDetailsService problems, HttpContext httpContext, Exception exception,
        ProblemDetails details)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = details.Status ?? StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, Exception = exception, ProblemDetails = details })
            .ConfigureAwait(false);
    }

    public static ProblemDetails GoneDetails(string title, string detail, DateTimeOffset expiredAt) => new()
    {
        Status = StatusCodes.Status410Gone,
        Title = title,
        Detail = detail,
        Extensions = { ["expiredAt"] = expiredAt },
    };
}
