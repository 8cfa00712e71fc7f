using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>Errors in OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>, with the types OpenAI's
/// clients map to their exceptions by status.</summary>
public static class OpenAiErrors
{
    public const string InvalidRequest = "invalid_request_error";

    public static JsonHttpResult<OpenAiErrorResponse> Create(int status, string message, string? param = null, string? code = null) =>
        TypedResults.Json(Body(status, message, param, code), statusCode: status);

    public static OpenAiErrorResponse Body(int status, string message, string? param = null, string? code = null) =>
        new(new OpenAiError(message, TypeOf(status), param, code ?? CodeOf(status)));

    public static JsonHttpResult<OpenAiErrorResponse> Invalid(string message, string? param = null, string? code = null) =>
        Create(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>A problem another part of the API answered (a refused submission, say), in OpenAI's shape.</summary>
    public static JsonHttpResult<OpenAiErrorResponse> From(ProblemDetails problem, string? param = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var status = problem.Status ?? StatusCodes.Status500InternalServerError;
        return Create(status, problem.Detail ?? problem.Title ?? "The request failed.", param);
    }

    private static string TypeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "authentication_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status429TooManyRequests => "rate_limit_error",
        StatusCodes.Status408RequestTimeout or StatusCodes.Status504GatewayTimeout => "timeout_error",
        >= 500 => "server_error",
        _ => InvalidRequest,
    };

    private static string? CodeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "invalid_api_key",
        StatusCodes.Status404NotFound => "not_found",
        StatusCodes.Status429TooManyRequests => "rate_limit_exceeded",
        StatusCodes.Status504GatewayTimeout => "timeout",
        _ => null,
    };
}

/// <summary>Marks the endpoints of the OpenAI-compatible surface, whose every error (a missing key, an exception) is
/// written in OpenAI's shape by <see cref="OpenAiProblemDetailsWriter"/>.</summary>
public sealed class OpenAiSurfaceMetadata
{
    public static OpenAiSurfaceMetadata Instance { get; } = new();
}

/// <summary>Writes the problems of OpenAI-surface endpoints (the 401 of the API key handler, the exception handler's 500,
/// status code pages) as OpenAI's error object, so that OpenAI's clients read the reason; every other endpoint keeps
/// RFC 9457 problem details.</summary>
public sealed class OpenAiProblemDetailsWriter : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) =>
        context?.HttpContext.GetEndpoint()?.Metadata.GetMetadata<OpenAiSurfaceMetadata>() is not null;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.HttpContext;
        var status = context.ProblemDetails.Status ?? http.Response.StatusCode;
        var body = OpenAiErrors.Body(status, context.ProblemDetails.Detail ?? context.ProblemDetails.Title ?? "The request failed.");
        return new ValueTask(http.Response.WriteAsJsonAsync(body, http.RequestAborted));
    }
}
