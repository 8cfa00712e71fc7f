using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Apis.OpenAi;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.Store;
using MassTransit;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// Bulk offline scoring (the shape of the OpenAI Batch API): a file of records in, one output line per record out,
/// joinable by the record's id, plus an error file. The file is stored once and referenced by the job's messages.
/// </summary>
public static class BatchesApi
{
    public static IEndpointRouteBuilder MapBatchesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/batches").WithTags("Batches");
        api.MapPost("/", SubmitBatch).WithName("SubmitBulkJob")
            .WithSummary("Scores a file of records with a model. The body is the file (JSON lines or CSV with a header, gzip accepted), "
                + "or empty with ?inputFileId= naming an uploaded one. 202 for a new bulk job, 200 with the existing one for a known ?id=. "
                + "A JSON body without ?model= is OpenAI's batch create: {input_file_id, endpoint, completion_window, metadata}.");
        api.MapGet("/", ListBatches).WithName("ListBulkJobs")
            .WithSummary("The most recent bulk jobs, newest first: OpenAI's list of batch objects (?after=, ?limit= 1-100), or with ?view=bulk this server's array.");
        api.MapGet("/{id:guid}", GetBatch).WithName("GetBulkJob").WithSummary("A bulk job's status and counts {total, succeeded, failed}.");
        api.MapGet("/{id:guid}/output", (Guid id, TenantCaller caller, IBulkStore bulk, CancellationToken ct) => Lines(id, caller, BulkResultKind.Output, bulk, ct))
            .WithName("GetBulkJobOutput").WithSummary("One JSON line per scored record, {id, outputs}, in input order; partial while running.");
        api.MapGet("/{id:guid}/errors", (Guid id, TenantCaller caller, IBulkStore bulk, CancellationToken ct) => Lines(id, caller, BulkResultKind.Errors, bulk, ct))
            .WithName("GetBulkJobErrors").WithSummary("One JSON line per failed record, {id, line, error}, in input order.");
        api.MapPost("/{id:guid}/cancel", CancelBatch).WithName("CancelBulkJob")
            .WithSummary("Stops a bulk job: chunks not yet scored are skipped; what was scored stays in the output.");
        api.MapGet("/{id:guid}/webhooks", GetBatchWebhooks).WithName("GetBulkJobWebhooks")
            .WithSummary("The bulk job's webhook deliveries and every attempt.");
        return app;
    }

    /// <summary>A bulk job, or OpenAI's batch create when the body is JSON (<c>application/json</c>) and no <c>?model=</c> is
    /// given: a bulk file travels as JSON lines, CSV or gzip, never as one JSON document.</summary>
    public static async Task<Results<Accepted<BulkJobView>, Ok<BulkJobView>, ProblemHttpResult, Ok<OpenAiBatch>, JsonHttpResult<OpenAiErrorResponse>>> SubmitBatch(
        HttpRequest request, [AsParameters] BulkJobQuery query, [AsParameters] BatchServices services, CancellationToken cancellationToken)
    {
        if (query.Model is null && request.HasJsonContentType())
        {
            OpenAiBatchRequest? body;
            try
            {
                body = await request.ReadFromJsonAsync<OpenAiBatchRequest>(cancellationToken);
            }
            catch (JsonException ex)
            {
                return OpenAiErrors.Invalid($"The body is not JSON: {ex.Message}");
            }

            return (await services.OpenAi.CreateAsync(body, services.Caller, cancellationToken)).Result switch
            {
                Ok<OpenAiBatch> created => created,
                JsonHttpResult<OpenAiErrorResponse> error => error,
                var other => throw new InvalidOperationException($"Unexpected result {other}."),
            };
        }

        return (await services.Submitter.SubmitAsync(request, query, services.Caller, cancellationToken)).Result switch
        {
            Accepted<BulkJobView> accepted => accepted,
            Ok<BulkJobView> existing => existing,
            ProblemHttpResult problem => problem,
            var other => throw new InvalidOperationException($"Unexpected result {other}."),
        };
    }

    /// <summary>OpenAI's list form (every bulk job as a batch object, <c>after</c> and <c>limit</c> 1-100, default 20), so that
    /// OpenAI's clients list; with <c>?view=bulk</c>, this server's own array of bulk jobs (<c>limit</c> 1-1000, default 50).</summary>
    public static async Task<Results<Ok<IReadOnlyList<BulkJobView>>, Ok<OpenAiList<OpenAiBatch>>>> ListBatches(TenantCaller caller, IBulkStore bulk,
        OpenAiBatchService openAi, CancellationToken cancellationToken, int? limit = null, string? view = null, string? after = null)
    {
        if (view == "bulk")
        {
            return TypedResults.Ok<IReadOnlyList<BulkJobView>>((await bulk.ListBulkJobsAsync(caller.TenantId, Math.Clamp(limit ?? 50, 1, 1000), cancellationToken))
                .Select(j => j.ToView()).ToArray());
        }

        return TypedResults.Ok(await openAi.ListAsync(caller, after, Math.Clamp(limit ?? 20, 1, 100), cancellationToken));
    }

    public static async Task<Results<Ok<BulkJobView>, ProblemHttpResult>> GetBatch(Guid id, TenantCaller caller, IBulkStore bulk,
        CancellationToken cancellationToken) =>
        await bulk.GetOwnAsync(caller, id, cancellationToken) is { } job ? TypedResults.Ok(job.ToView()) : Unknown(id);

    public static async Task<Results<Accepted<BulkJobView>, Ok<BulkJobView>, ProblemHttpResult>> CancelBatch(
        Guid id, TenantCaller caller, IBulkStore bulk, CancellationToken cancellationToken)
    {
        var before = await bulk.GetOwnAsync(caller, id, cancellationToken);
        if (before is null)
        {
            return Unknown(id);
        }

        if (before.Status is BulkJobStatus.Cancelling or BulkJobStatus.Cancelled)
        {
            return TypedResults.Ok(before.ToView()); // asked before: the same answer, nothing more to do
        }

        var job = await bulk.TransitionBulkJobAsync(caller.TenantId, id, [BulkJobStatus.Validating, BulkJobStatus.Running], BulkJobStatus.Cancelling,
            cancellationToken: cancellationToken);
        return job is { Status: BulkJobStatus.Cancelling }
            ? TypedResults.Accepted($"/v1/batches/{id}", job.ToView())
            : Problems.Create(StatusCodes.Status409Conflict, "Cannot cancel",
                $"Bulk job {id} is {job?.Status.ToString().ToLowerInvariant()}; only a validating or running job can be cancelled.");
    }

    public static async Task<Results<Ok<IReadOnlyList<WebhookDeliveryView>>, ProblemHttpResult>> GetBatchWebhooks(
        Guid id, TenantCaller caller, IBulkStore bulk, IWebhookStore webhooks, CancellationToken cancellationToken) =>
        await bulk.GetOwnAsync(caller, id, cancellationToken) is null
            ? Unknown(id)
            : TypedResults.Ok<IReadOnlyList<WebhookDeliveryView>>((await webhooks.ListWebhooksAsync(caller.TenantId, id, cancellationToken)).Select(d => d.ToView()).ToArray());

    private static async Task<IResult> Lines(Guid id, TenantCaller caller, BulkResultKind kind, IBulkStore bulk, CancellationToken cancellationToken)
    {
        var job = await bulk.GetOwnAsync(caller, id, cancellationToken);
        if (job is null)
        {
            return Unknown(id);
        }

        if (job.OutputsExpiredAt is { } expiredAt)
        {
            return Problems.Gone("The bulk job's results have expired",
                $"The results of bulk job {id} were removed under the tenant's retention at {expiredAt:O}.", expiredAt);
        }

        // Streamed chunk by chunk from the store: a million-line output never sits in this process's memory.
        return Results.Stream(body => bulk.CopyBulkResultsToAsync(caller.TenantId, id, kind, body, cancellationToken), "application/x-ndjson");
    }

    /// <summary>The caller's own bulk job, or null: ids are per tenant, so another tenant's job under the id is never read.</summary>
    private static Task<BulkJobRecord?> GetOwnAsync(this IBulkStore bulk, TenantCaller caller, Guid id, CancellationToken cancellationToken) =>
        bulk.GetBulkJobAsync(caller.TenantId, id, cancellationToken);

    internal static BulkJobView ToView(this BulkJobRecord job) => new()
    {
        Id = job.BulkJobId,
        Model = Tenants.PlainModelName(job.Model),
        ModelVersion = job.ModelVersion,
        Status = job.Status,
        InputFileId = job.InputFileId,
        Format = job.Format,
        Counts = new BulkJobCounts { Total = job.Total, Succeeded = job.Succeeded, Failed = job.Failed },
        ChunksDone = job.ChunksDone,
        ChunksTotal = job.ChunksTotal,
        SubmittedAt = job.SubmittedAt,
        StartedAt = job.StartedAt,
        CompletedAt = job.CompletedAt,
        ExpiresAt = job.ExpiresAt,
        CallbackUrl = job.CallbackUrl,
        Error = job.Error,
        OutputsExpiredAt = job.OutputsExpiredAt,
    };

    private static ProblemHttpResult Unknown(Guid id) => Problems.Create(StatusCodes.Status404NotFound, "Unknown bulk job", $"No bulk job with id {id} is known.");

    private static ProblemHttpResult Invalid(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid bulk job", detail);
}
