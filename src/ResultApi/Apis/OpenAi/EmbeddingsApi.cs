using System.Text.Json;
using AIaaS.Queue.ResultApi.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's embeddings endpoint, so that OpenAI's client libraries work against this server with their <c>baseURL</c> set to
/// it: <c>POST /v1/embeddings</c> runs each input as a predict job on a model registered with a text-embedding recipe.
/// </summary>
public static class EmbeddingsApi
{
    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/embeddings").WithTags("OpenAI").WithMetadata(OpenAiSurfaceMetadata.Instance);
        api.MapPost("/", CreateEmbeddings).WithName("OpenAiCreateEmbeddings")
            .WithSummary("OpenAI's embeddings: {model, input (a string or strings), encoding_format (float | base64), dimensions, user}; "
                + "each input is a predict job, batched with all other traffic, waited for up to ResultApi:InferWaitSeconds (504 past it).");
        return app;
    }

    public static async Task<Results<Ok<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>>> CreateEmbeddings(
        HttpRequest http, TenantCaller caller, EmbeddingsService embeddings, CancellationToken cancellationToken)
    {
        JsonElement body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JsonElement>(http.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            return OpenAiErrors.Invalid($"The body is not JSON: {ex.Message}");
        }

        return await embeddings.CreateAsync(body, caller, http.HttpContext.Response, cancellationToken);
    }
}
