using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AIaaS.Queue.ResultApi.Apis;

internal static class Problems
{
    /// <summary>An RFC 9457 problem response (<c>application/problem+json</c>).</summary>
    public static ProblemHttpResult Create(int status, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails { Status = status, Title = title, Detail = detail });
}
