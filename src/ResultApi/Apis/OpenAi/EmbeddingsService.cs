using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// Answers <c>POST /v1/embeddings</c> as the Open Inference Protocol's infer does: every input becomes one predict job with
/// <see cref="SubmitPredictJob.Text"/>, queued and batched with all other traffic, and the call waits for all of them up to
/// <c>ResultApi:InferWaitSeconds</c>. Past that it answers 504 with the job ids, which go on (and which an
/// <c>Idempotency-Key</c> lets a retry pick up instead of queueing the inputs again).
/// </summary>
public sealed class EmbeddingsService(JobSubmitter submitter, JobCompletionWaiter waiter, IModelStore models, IOptions<ResultApiOptions> options,
    TimeProvider time)
{
    /// <summary>Jobs submitted at once: enough to keep the broker busy, few enough to leave the store to others.</summary>
    private const int SubmitConcurrency = 8;

    public async Task<Results<Ok<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>>> CreateAsync(
        JsonElement body, TenantCaller caller, string? idempotencyKey, HttpResponse response, CancellationToken cancellationToken)
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

        var submitted = new JobRecord[request.Inputs.Count];
        SubmissionRefusal? refusal = null;
        var now = time.GetUtcNow();
        await Parallel.ForEachAsync(Enumerable.Range(0, submitted.Length),
            new ParallelOptions { MaxDegreeOfParallelism = SubmitConcurrency, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                var submission = await submitter.SubmitPredictAsync(new SubmitPredictJob
                {
                    JobId = JobIdFor(caller, idempotencyKey, i),
                    Model = request.Model,
                    ModelVersion = model.Version.Version,
                    Text = request.Inputs[i],
                    SubmittedAt = now,
                }, caller, ct);
                if (submission.Refusal is not null)
                {
                    Interlocked.CompareExchange(ref refusal, submission.Refusal, null);
                }
                else
                {
                    submitted[i] = submission.Job!;
                }
            });
        if (refusal is not null)
        {
            refusal.ApplyHeaders(response);
            return OpenAiErrors.Create(refusal.Status, refusal.Detail, refusal.Status == StatusCodes.Status404NotFound ? "model" : null);
        }

        if (submitted.FirstOrDefault(j => j.Kind != JobKind.Predict || j.Model != model.Version.Name) is { } taken)
        {
            return OpenAiErrors.Create(StatusCodes.Status409Conflict,
                $"The Idempotency-Key was used for another request (job {taken.JobId}); choose another key.", code: "idempotency_key_reused");
        }

        var limit = TimeSpan.FromSeconds(options.Value.InferWaitSeconds);
        var finals = await Task.WhenAll(submitted.Select(job => job.IsFinal ? Task.FromResult<JobRecord?>(job)
            : limit > TimeSpan.Zero ? waiter.WaitAsync(job.JobId, limit, cancellationToken) : Task.FromResult<JobRecord?>(null)));
        return Answer(request, submitted, finals);
    }

    private static Results<Ok<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>> Answer(EmbeddingsRequest request, JobRecord[] submitted,
        JobRecord?[] finals)
    {
        var waiting = submitted.Where((_, i) => finals[i] is null).Select(j => j.JobId).ToArray();
        if (waiting.Length > 0)
        {
            return OpenAiErrors.Create(StatusCodes.Status504GatewayTimeout,
                $"{waiting.Length} of {submitted.Length} inputs were not embedded within the wait limit; their jobs go on: "
                + string.Join(", ", waiting) + ". Read them at /v1/jobs/{id}, or repeat the request with the same Idempotency-Key.");
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

    /// <summary>A new id per input; with an <c>Idempotency-Key</c>, the same ids for the same key, tenant and input position,
    /// so that a retried request finds the jobs its first attempt queued.</summary>
    internal static Guid JobIdFor(TenantCaller caller, string? idempotencyKey, int index)
    {
        if (string.IsNullOrEmpty(idempotencyKey))
        {
            return Guid.CreateVersion7();
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"openai-embeddings\n{caller.TenantId}\n{idempotencyKey}\n{index}"));
        // RFC 9562 version 8 (custom), variant 10.
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
