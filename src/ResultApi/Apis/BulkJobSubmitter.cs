using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.Store;
using AIaaS.Queue.Domain;
using MassTransit;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>The query of <c>POST /v1/batches</c>: which model scores the file, and how.</summary>
public sealed record BulkJobQuery
{
    [FromQuery(Name = "model")] public string? Model { get; init; }
    [FromQuery(Name = "version")] public int? Version { get; init; }
    [FromQuery(Name = "id")] public Guid? Id { get; init; }
    [FromQuery(Name = "inputFileId")] public string? InputFileId { get; init; }
    [FromQuery(Name = "format")] public BulkInputFormat? Format { get; init; }
    [FromQuery(Name = "chunkSize")] public int? ChunkSize { get; init; }
    [FromQuery(Name = "callbackUrl")] public string? CallbackUrl { get; init; }
    [FromQuery(Name = "completionWindowSeconds")] public double? CompletionWindowSeconds { get; init; }

    /// <summary>Explain every record (its output line carries its attributions); the options below imply it.</summary>
    [FromQuery(Name = "explain")] public bool? Explain { get; init; }
    [FromQuery(Name = "explainSamples")] public int? ExplainSamples { get; init; }
    [FromQuery(Name = "explainSeed")] public int? ExplainSeed { get; init; }

    /// <summary>The explanation the query asks for; null for none.</summary>
    public ExplainOptions? ExplainOptions => Explain == true || ExplainSamples is not null || ExplainSeed is not null
        ? new ExplainOptions { Samples = ExplainSamples, Seed = ExplainSeed }
        : null;
}

/// <summary>What <c>POST /v1/batches</c> needs besides its request (eShop's <c>[AsParameters]</c> services pattern).</summary>
public sealed record BatchServices(TenantCaller Caller, BulkJobSubmitter Submitter, OpenAi.OpenAiBatchService OpenAi);

/// <summary>
/// Puts a bulk job submitted over HTTP on the broker: a repeated id answers with its job, then the job's rules, the
/// model, the input file (the body streamed into the store, or an uploaded file named), then publish and the record.
/// </summary>
public sealed class BulkJobSubmitter(IBulkStore bulk, IDatasetStore files, IModelStore models, IBus bus, CallbackUrlPolicy callbacks,
    StorageQuota quota, IOptions<ResultApiOptions> options, TimeProvider time)
{
    public async Task<Results<Accepted<BulkJobView>, Ok<BulkJobView>, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, BulkJobQuery query, TenantCaller caller, CancellationToken cancellationToken)
    {
        var bulkJobId = query.Id ?? Guid.CreateVersion7();
        if (bulkJobId == Guid.Empty)
        {
            return Invalid("id must not be the empty GUID.");
        }

        // A repeated id answers with the job it already names, before reading (and storing) the body again. Ids are per
        // tenant: another tenant's job under this id is not looked at, and this submission is a new job of the caller's.
        if (await bulk.GetBulkJobAsync(caller.TenantId, bulkJobId, cancellationToken) is { } existing)
        {
            return TypedResults.Ok(existing.ToView());
        }

        if (await QueryProblemAsync(query, caller, request.ContentLength, cancellationToken) is { } problem)
        {
            return problem;
        }

        var hasBody = request.ContentLength is > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);
        if (hasBody == (query.InputFileId is not null))
        {
            return Invalid("Send the file as the request body, or name an uploaded file with ?inputFileId=, not both and not neither.");
        }

        if (query.InputFileId is not null)
        {
            switch (await files.GetDatasetAsync(caller.TenantId, query.InputFileId, cancellationToken))
            {
                case null:
                    return Problems.Create(StatusCodes.Status404NotFound, "Unknown file", $"No file with id '{query.InputFileId}' is stored.");
                case { ExpiredAt: { } expiredAt }:
                    return Problems.Gone("The file has expired",
                        $"The content of file '{query.InputFileId}' was removed under the tenant's retention at {expiredAt:O}.", expiredAt);
            }
        }

        var inputFileId = query.InputFileId;
        if (hasBody)
        {
            var stored = await StoreBodyAsync(request, caller, bulkJobId, cancellationToken);
            if (stored.Problem is not null)
            {
                return stored.Problem;
            }

            inputFileId = stored.FileId;
        }

        return await QueueAsync(query, caller, bulkJobId, inputFileId!, cancellationToken);
    }

    /// <summary>Queues a bulk job over a file already stored for the caller under a new id (the OpenAI Batch API's input,
    /// translated into records): the query's rules and the model as <see cref="SubmitAsync"/> checks them, then publish and record.</summary>
    public async Task<Results<Accepted<BulkJobView>, Ok<BulkJobView>, ProblemHttpResult>> SubmitStoredFileAsync(
        BulkJobQuery query, TenantCaller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentException.ThrowIfNullOrEmpty(query.InputFileId);
        if (await QueryProblemAsync(query, caller, incomingBytes: null, cancellationToken) is { } problem)
        {
            return problem;
        }

        return await QueueAsync(query, caller, query.Id ?? Guid.CreateVersion7(), query.InputFileId, cancellationToken);
    }

    /// <summary>The query's own rules, the callback URL, the model and the tenant's storage quota (with the body about to be
    /// stored, when its length is known), in that order; null when all are good.</summary>
    private async Task<ProblemHttpResult?> QueryProblemAsync(BulkJobQuery query, TenantCaller caller, long? incomingBytes, CancellationToken cancellationToken)
    {
        if (SubmissionRules.ModelNameProblem(query.Model) is { } nameProblem)
        {
            return Invalid(nameProblem);
        }

        if (query.ChunkSize is { } size && size is < 1 or > SubmitBulkJob.MaxChunkSize)
        {
            return Invalid($"chunkSize must be 1-{SubmitBulkJob.MaxChunkSize}.");
        }

        if (query.CompletionWindowSeconds is { } window && !(window is > 0 and <= 30 * 24 * 3600))
        {
            return Invalid("completionWindowSeconds, when given, must be above 0 and at most 30 days.");
        }

        if (query.CallbackUrl is not null && await callbacks.CheckSubmittedAsync(query.CallbackUrl, "callbackUrl", cancellationToken) is { } refused)
        {
            return Invalid(refused);
        }

        if (await models.GetVersionAsync(Tenants.QualifyModel(caller.TenantId, query.Model!), query.Version, cancellationToken) is null)
        {
            return Problems.Create(StatusCodes.Status404NotFound, "Unknown model",
                $"No model {query.Model}{(query.Version is { } v ? $" version {v}" : "")} is registered.");
        }

        return await quota.RefusalAsync(caller.TenantId, incomingBytes, cancellationToken) is { } refusal ? Problems.QuotaExceeded(refusal) : null;
    }

    /// <summary>Streams the body into the store: the claim check every message of this job refers to.</summary>
    private async Task<(string? FileId, ProblemHttpResult? Problem)> StoreBodyAsync(HttpRequest request, TenantCaller caller, Guid bulkJobId,
        CancellationToken cancellationToken)
    {
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = options.Value.MaxBulkFileBytes;
        }

        try
        {
            return ((await files.AddDatasetAsync(caller.TenantId, $"batch-{bulkJobId:N}", request.Body, cancellationToken)).Id, null);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Problems.Create(StatusCodes.Status413PayloadTooLarge, "File too large",
                $"The input file is larger than the {options.Value.MaxBulkFileBytes} bytes allowed (ResultApi:MaxBulkFileBytes)."));
        }
    }

    private async Task<Results<Accepted<BulkJobView>, Ok<BulkJobView>, ProblemHttpResult>> QueueAsync(BulkJobQuery query, TenantCaller caller, Guid bulkJobId, string inputFileId,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var job = new SubmitBulkJob
        {
            BulkJobId = bulkJobId,
            Model = query.Model!,
            ModelVersion = query.Version,
            InputFileId = inputFileId,
            Format = query.Format,
            ChunkSize = query.ChunkSize,
            Explain = query.ExplainOptions,
            CallbackUrl = query.CallbackUrl,
            ExpiresAt = query.CompletionWindowSeconds is { } seconds ? now.AddSeconds(seconds) : null,
            SubmittedAt = now,
            Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.BulkPurpose, bulkJobId),
        };
        var record = new BulkJobRecord
        {
            BulkJobId = bulkJobId,
            TenantId = caller.TenantId,
            Model = Tenants.QualifyModel(caller.TenantId, query.Model!),
            ModelVersion = query.Version,
            Status = BulkJobStatus.Validating,
            InputFileId = inputFileId,
            Format = query.Format,
            ChunkSize = query.ChunkSize,
            CallbackUrl = query.CallbackUrl,
            ExpiresAt = job.ExpiresAt,
            SubmittedAt = now,
        };
        // Published first, so that no job is stored that never reached the broker; the worker stores it too if it gets
        // there first, and create-if-absent keeps whichever record came first.
        await bus.Publish(job, context => context.MessageId = bulkJobId, cancellationToken);
        // Create-if-absent under (tenant, id): a racing repeat of the same submission, or the worker, may have stored it first.
        await bulk.CreateBulkJobAsync(record, cancellationToken);
        return TypedResults.Accepted($"/v1/batches/{bulkJobId}", record.ToView());
    }

    private static ProblemHttpResult Invalid(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid bulk job", detail);
}
