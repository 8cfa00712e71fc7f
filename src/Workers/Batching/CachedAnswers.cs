using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// Answers a predict job from the <see cref="ResponseCache"/> before it would enter its batcher: the job's result is
/// stored (marked <see cref="JobRecord.Cached"/>, waiting out a store outage as a batch's results do) before the consumer
/// returns, so its message is acknowledged only once the answer is stored, as for any job.
/// </summary>
internal sealed class CachedAnswers(
    ResponseCache cache,
    IJobStore jobs,
    StoreOutage outage,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    AiaasMetrics metrics,
    ILogger<CachedAnswers> logger)
{
    /// <summary>Answered: the job ended from the cache (or was already final). Otherwise the key its result is to be kept
    /// under once its batch stores it; null when its model version does not cache.</summary>
    public async Task<(bool Answered, string? Key)> TryAnswerAsync(ConsumeContext<SubmitPredictJob> context, LoadedModel model,
        string tenantId, SubmitPredictJob job, PreparedRequest request)
    {
        if (cache.KeyFor(model, tenantId, job, request) is not { } key)
        {
            return (false, null);
        }

        if (cache.Find(model, tenantId, key) is not { } outputs)
        {
            return (false, key);
        }

        var now = time.GetUtcNow();
        var record = new JobRecord
        {
            JobId = job.JobId,
            TenantId = tenantId,
            Kind = JobKind.Predict,
            Model = model.Name,
            ModelVersion = model.Version,
            Status = JobStatus.Succeeded,
            SubmittedAt = job.SubmittedAt,
            StartedAt = now,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            CallbackUrl = job.CallbackUrl,
            Outputs = outputs,
            Cached = true,
        };
        var written = await outage.WriteAsync(() => jobs.CompleteAsync([record], context.CancellationToken),
            $"the cached answer of job {job.JobId}").ConfigureAwait(false);
        if (written.Count > 0)
        {
            metrics.JobStarted(model.Name, now - job.SubmittedAt);
            metrics.JobCompleted("Predict", model.Name, nameof(JobStatus.Succeeded));
            await StoredEventPublisher.PublishAsync(context, CompletedEvent(model, record, request.Rows), logger, context.CancellationToken)
                .ConfigureAwait(false);
        }

        return (true, key);
    }

    /// <summary>The event a batch would publish, for a "batch" of this one job that made no model call, so that waiting
    /// clients and webhooks learn of it as of any other.</summary>
    private PredictBatchCompleted CompletedEvent(LoadedModel model, JobRecord record, int rows) => new()
    {
        BatchId = $"{options.Value.WorkerId}-cache-{Guid.NewGuid():N}",
        Model = model.Name,
        ModelVersion = model.Version,
        Device = model.Device,
        WorkerId = options.Value.WorkerId,
        BatchSize = 1,
        Rows = rows,
        ModelMilliseconds = 0,
        FromResponseCache = true,
        CompletedAt = record.CompletedAt!.Value,
        Jobs = [new JobOutcome { JobId = record.JobId, Status = record.Status, CallbackUrl = record.CallbackUrl }],
    };
}
