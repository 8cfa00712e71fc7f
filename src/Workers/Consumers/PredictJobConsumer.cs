using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Explanations;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>
/// Takes one predict job to its dynamic batch and returns (so that MassTransit acknowledges the message) only once
/// the job's result is stored. A job that cannot run fails with a reason; the worker and the other jobs go on. A job that
/// asks for an explanation goes on to the explanation queue, whose consumer (<see cref="ExplainJobConsumer"/>) runs it here
/// with <c>explainHere</c> set.
/// </summary>
internal sealed class PredictJobConsumer(
    ModelCache models,
    BatcherRegistry batchers,
    CachedAnswers cachedAnswers,
    IJobStore jobs,
    ExplanationRunner explanations,
    SenderVerifier senders,
    SenderRefusals refusals,
    StoreOutage outage,
    AiaasMetrics metrics,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<PredictJobConsumer> logger) : IConsumer<SubmitPredictJob>
{
    public Task Consume(ConsumeContext<SubmitPredictJob> context) => ConsumeAsync(context, explainHere: false);

    /// <param name="context">The job's message.</param>
    /// <param name="explainHere">True on the explanation queue: a job that asks for an explanation runs here.</param>
    internal async Task ConsumeAsync(ConsumeContext<SubmitPredictJob> context, bool explainHere)
    {
        var received = Stopwatch.GetTimestamp();
        var job = context.Message;
        if (job.JobId == Guid.Empty)
        {
            throw new InvalidJobException("JobId is missing or empty; the job cannot be tracked.");
        }

        // An explanation runs the model on thousands of rows: on the predict queue it would hold a slot that plain jobs
        // need. It moves, as it came (its sender's proof too, checked there), to a queue with its own concurrency limit.
        if (job.Explain is not null && !explainHere)
        {
            var explainQueue = await context.GetSendEndpoint(ExplainJobConsumerDefinition.Address).ConfigureAwait(false);
            await explainQueue.Send(job, send => send.MessageId = context.MessageId ?? job.JobId, context.CancellationToken).ConfigureAwait(false);
            return;
        }

        var sender = await senders.VerifyAsync(job.Sender, ApiKeyFormat.PredictPurpose, job.JobId, context.CancellationToken).ConfigureAwait(false);
        if (!sender.Accepted)
        {
            throw refusals.Refuse(nameof(SubmitPredictJob), job.JobId, sender);
        }

        // First check of the time-to-live: a job that waited too long in the broker ends without loading its model.
        if (job.ExpiresAt is { } expiresAt && expiresAt <= time.GetUtcNow())
        {
            await FailAsync(context, sender.TenantId, Tenants.StoredModelName(sender.TenantId, job.Model), job.ModelVersion, ExpiredError(expiresAt), JobStatus.Expired).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrWhiteSpace(job.Model))
        {
            await FailAsync(context, sender.TenantId, "", null, "Model is missing: name a registered model.").ConfigureAwait(false);
            return;
        }

        if ((SubmissionRules.ModelNameProblem(job.Model) ?? SubmissionRules.InputSizeProblem(job, options.Value.MaxInputValues)) is { } problem)
        {
            await FailAsync(context, sender.TenantId, Tenants.StoredModelName(sender.TenantId, job.Model), job.ModelVersion, problem).ConfigureAwait(false);
            return;
        }

        // From here on the model is the tenant's own: its name qualified, so no tenant can reach another's model. The verified
        // tenant travels beside the job (PendingPrediction.TenantId); the sender's proof is spent, so it goes no further.
        job = job with { Model = Tenants.QualifyModel(sender.TenantId, job.Model), Sender = null };
        LoadedModel? model = null;
        ModelLease? lease = null;
        try
        {
            // Held until the job's result is stored: a model with a job in its batcher is never unloaded.
            lease = await models.RentAsync(job.Model, job.ModelVersion, context.CancellationToken).ConfigureAwait(false);
            model = lease.Model;
            var (request, error) = RequestPreparer.Prepare(model, job, new InputLimits(options.Value.MaxInputValues, options.Value.MaxInputBytes));
            if (error is not null)
            {
                await FailAsync(context, sender.TenantId, job.Model, model.Version, error).ConfigureAwait(false);
                return;
            }

            if (job.Explain is { } explain)
            {
                // Never from the response cache: its entries hold predictions, not attributions.
                await ExplainAsync(context, model, job, sender.TenantId, explain, request!).ConfigureAwait(false);
                return;
            }

            var (answered, cacheKey) = await cachedAnswers.TryAnswerAsync(model, sender.TenantId, job, request!).ConfigureAwait(false);
            if (!answered)
            {
                metrics.StageTimed("consume.prepare", Stopwatch.GetElapsedTime(received));
                await batchers.For(model).EnqueueAsync(new PendingPrediction(job, sender.TenantId, request!) { ResponseCacheKey = cacheKey })
                    .ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ModelNotSupportedException)
        {
            await FailAsync(context, sender.TenantId, job.Model, job.ModelVersion, ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && (IsTheJobsOwn(ex) || IsFinalAttempt(context)))
        {
            // A message that reaches the error queue leaves its job Queued for good, so the last attempt (or the first, for
            // a fault that a retry cannot change: the model and the job are immutable) ends the job with the reason instead.
            logger.LogError(ex, "Job {JobId} for {Model} failed in the worker", job.JobId, job.Model);
            var reason = IsTheJobsOwn(ex)
                ? $"The worker could not run the job: {ex.GetType().Name}: {ex.Message}"
                : $"The worker could not run the job ({ex.GetType().Name}) after {TransientRetry.RetryLimit} retries; the details are in the worker's log.";
            await FailAsync(context, sender.TenantId, job.Model, model?.Version ?? job.ModelVersion, reason).ConfigureAwait(false);
        }
        finally
        {
            lease?.Dispose();
        }
    }

    /// <summary>Predicts and explains the job outside the batcher, stores both (through a store outage, as batches do) and
    /// tells the job's listeners as a batch of one would; a model or options that cannot be explained fail the job alone.</summary>
    private async Task ExplainAsync(ConsumeContext<SubmitPredictJob> context, LoadedModel model, SubmitPredictJob job, string tenantId,
        ExplainOptions explain, PreparedRequest request)
    {
        if ((ModelExplanations.OptionsProblem(explain) ?? ModelExplanations.Problem(model)) is { } problem)
        {
            await FailAsync(context, tenantId, job.Model, model.Version, problem).ConfigureAwait(false);
            return;
        }

        var record = await explanations.RunAsync(model, job, tenantId, request).ConfigureAwait(false);
        var written = await outage.WriteAsync(() => jobs.CompleteAsync([record], context.CancellationToken),
            $"the explained result of job {job.JobId}").ConfigureAwait(false);
        if (!written.Contains(new JobKey(tenantId, job.JobId)))
        {
            return; // Already final: a redelivery, or a repeated JobId.
        }

        await StoredEventPublisher.PublishAsync(context, new PredictBatchCompleted
        {
            BatchId = $"{record.WorkerId}-explain-{job.JobId:N}",
            TenantId = tenantId,
            Model = model.Name,
            ModelVersion = model.Version,
            Device = model.Device,
            WorkerId = record.WorkerId!,
            BatchSize = 1,
            Rows = 1,
            ModelMilliseconds = (record.CompletedAt!.Value - record.StartedAt!.Value).TotalMilliseconds,
            CompletedAt = record.CompletedAt.Value,
            Jobs = [new JobOutcome { JobId = job.JobId, Status = record.Status, Error = record.Error }],
        }, logger, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Faults of the model or the job themselves (bad arithmetic, an argument out of range), which no retry changes.
    /// Their messages name no server detail, so the job's reason may carry them.</summary>
    private static bool IsTheJobsOwn(Exception ex) =>
        ex is ArgumentException or ArithmeticException or FormatException or IndexOutOfRangeException or NotSupportedException;

    private static bool IsFinalAttempt(ConsumeContext context) => context.GetRetryAttempt() >= TransientRetry.RetryLimit;

    internal static string ExpiredError(DateTimeOffset expiresAt) =>
        $"Expired: still queued at its time-to-live ({expiresAt:O}), so it never ran.";

    private async Task FailAsync(ConsumeContext<SubmitPredictJob> context, string tenantId, string model, int? version, string error,
        JobStatus status = JobStatus.Failed)
    {
        var job = context.Message;
        var now = time.GetUtcNow();
        // Held through a store outage like a result: a failure not written would send the message to the error queue.
        var written = await outage.WriteAsync(() => jobs.CompleteAsync([new JobRecord
        {
            JobId = job.JobId,
            TenantId = tenantId,
            Kind = JobKind.Predict,
            Model = model,
            ModelVersion = version,
            Status = status,
            SubmittedAt = job.SubmittedAt,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            Error = error,
            CallbackUrl = job.CallbackUrl,
        }], context.CancellationToken), $"the failure of job {job.JobId}").ConfigureAwait(false);
        if (written.Count == 0)
        {
            return; // Already final: a redelivery, or a repeated JobId.
        }

        logger.LogInformation("Job {JobId} ended {Status} before running: {Error}", job.JobId, status, error);
        await StoredEventPublisher.PublishAsync(context, new JobFailed
        {
            JobId = job.JobId,
            Kind = JobKind.Predict,
            Model = model,
            Error = error,
            Status = status,
            FailedAt = now,
            TenantId = tenantId,
        }, logger, context.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A message that cannot become a job at all; it goes to the error queue with this reason, never retried.</summary>
public sealed class InvalidJobException(string message) : Exception(message);
