using AIaaS.Queue.ResultApi.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's Batch API beside this server's own bulk jobs on <c>/v1/batches</c>. The two share the path and tell themselves
/// apart: <c>POST /v1/batches</c> with an <c>application/json</c> body and no <c>?model=</c> is OpenAI's create (see
/// <see cref="BatchesApi.SubmitBatch"/>); <c>GET /v1/batches</c> answers OpenAI's list form (every bulk job, as batch
/// objects), today's array with <c>?view=bulk</c>; a <c>batch_…</c> id is OpenAI's, a GUID this server's own (both name the
/// same jobs). These are the routes for OpenAI's ids.
/// </summary>
public static class OpenAiBatchesApi
{
    public static IEndpointRouteBuilder MapOpenAiBatchesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/batches").WithTags("OpenAI").WithMetadata(OpenAiSurfaceMetadata.Instance);
        // A GUID matches the bulk job routes' {id:guid} first; only OpenAI's ids reach these.
        api.MapGet("/{id}", GetBatch).WithName("OpenAiGetBatch")
            .WithSummary("OpenAI's batch object: status, request_counts, output_file_id and error_file_id once it ends.");
        api.MapPost("/{id}/cancel", CancelBatch).WithName("OpenAiCancelBatch")
            .WithSummary("Cancels a validating or in_progress batch: requests not yet run are skipped; what ran stays in the output.");
        return app;
    }

    public static async Task<Results<Ok<OpenAiBatch>, JsonHttpResult<OpenAiErrorResponse>>> GetBatch(
        string id, TenantCaller caller, OpenAiBatchService batches, CancellationToken cancellationToken) =>
        await batches.FindAsync(id, caller, cancellationToken) is { } job
            ? TypedResults.Ok(await batches.RenderAsync(job, cancellationToken))
            : OpenAiBatchService.Unknown(id);

    public static Task<Results<Ok<OpenAiBatch>, JsonHttpResult<OpenAiErrorResponse>>> CancelBatch(
        string id, TenantCaller caller, OpenAiBatchService batches, CancellationToken cancellationToken) =>
        batches.CancelAsync(id, caller, cancellationToken);
}
