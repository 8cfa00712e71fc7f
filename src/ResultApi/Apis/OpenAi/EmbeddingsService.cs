using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// Answers <c>POST /v1/embeddings</c> as the Open Inference Protocol's infer does: every input becomes one predict job with
/// <see cref="SubmitPredictJob.Text"/>, queued and batched with all other traffic, and the call waits for all of them up to
/// <c>ResultApi:InferWaitSeconds</c>. Past that it answers 504 with the job ids, which go on.
/// </summary>
public sealed class EmbeddingsService(JobSubmitter submitter, JobCompletionWaiter waiter, IModelStore models, IOptions<ResultApiOptions> options)
{
    public async Task<Results<Ok<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>>> CreateAsync(
        JsonElement body, TenantCaller caller, HttpResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(response);
        if (EmbeddingsRequest.Read(body, out var invalid, out var param) is not { } request)
        {
            return OpenAiErrors.Invalid(invalid!, param);
        }

        var (model, error, status) = await EmbeddingModel.FindAsync(request.Model, caller, models, cancellationToken);
        if (model is null)
        {
            return TypedResults.Json(error!, statusCode: status);
        }

        if (request.DimensionsProblem(model.Dimensions) is { } dimensions)
        {
            return OpenAiErrors.Invalid(dimensions, "dimensions");
        }

        // One version for every input, one admission decision, nothing queued when refused.
        var submission = await submitter.SubmitTextsAsync(caller, request.Model, request.Inputs, model.Version.Version, cancellationToken: cancellationToken);
        if (submission.Refusal is { } refusal)
        {
            refusal.ApplyHeaders(response);
            return OpenAiErrors.Create(refusal.Status, refusal.Detail, refusal.Status == StatusCodes.Status404NotFound ? "model" : null);
        }

        var limit = TimeSpan.FromSeconds(options.Value.InferWaitSeconds);
        var finals = await Task.WhenAll(submission.JobIds.Select(id =>
            limit > TimeSpan.Zero ? waiter.WaitAsync(caller.TenantId, id, limit, cancellationToken) : Task.FromResult<JobRecord?>(null)));
        return Answer(request, submission.JobIds, finals);
    }

    private static Results<Ok<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>> Answer(EmbeddingsRequest request, IReadOnlyList<Guid> jobIds,
        JobRecord?[] finals)
    {
        var waiting = jobIds.Where((_, i) => finals[i] is null).ToArray();
        if (waiting.Length > 0)
        {
            return OpenAiErrors.Create(StatusCodes.Status504GatewayTimeout,
                $"{waiting.Length} of {jobIds.Count} inputs were not embedded within the wait limit "
                + "(ResultApi:InferWaitSeconds); their jobs go on, read them at /v1/jobs/{id}: " + string.Join(", ", waiting) + ".");
        }

        var data = new EmbeddingItem[finals.Length];
        long tokens = 0;
        for (var i = 0; i < finals.Length; i++)
        {
            var job = finals[i]!;
            if (job.Status != JobStatus.Succeeded)
            {
                return job.Status == JobStatus.Failed
                    ? OpenAiErrors.Invalid($"input[{i}]: {job.Error ?? "the job failed"} (job {job.JobId})", "input")
                    : OpenAiErrors.Create(StatusCodes.Status500InternalServerError,
                        $"input[{i}]: the job ended {job.Status.ToString().ToLowerInvariant()} (job {job.JobId}).");
            }

            if (!EmbeddingVectors.TryRead(job.Outputs, out var embedding, out var count))
            {
                return OpenAiErrors.Create(StatusCodes.Status500InternalServerError,
                    $"input[{i}]: job {job.JobId} has no '{EmbeddingVectors.EmbeddingOutput}' output.");
            }

            tokens += count;
            data[i] = new EmbeddingItem { Index = i, Embedding = EmbeddingVectors.Encode(embedding, request.Base64) };
        }

        return TypedResults.Ok(new EmbeddingsResponse
        {
            Data = data,
            Model = request.Model,
            Usage = new EmbeddingsUsage { PromptTokens = tokens, TotalTokens = tokens },
        });
    }
}
