using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Inference;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>
/// Takes one predict job to its dynamic batch and returns (so that MassTransit acknowledges the message) only once
/// the job's result is stored. A job that cannot run fails with a reason; the worker and the other jobs go on.
/// </summary>
internal sealed class PredictJobConsumer(
    ModelCache models,
    BatcherRegistry batchers,
    IJobStore jobs,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<PredictJobConsumer> logger) : IConsumer<SubmitPredictJob>
{
    private static readonly TimeSpan EventPublishTimeout = TimeSpan.FromSeconds(10);

    public async Task Consume(ConsumeContext<SubmitPredictJob> context)
    {
        var job = context.Message;
        if (job.JobId == Guid.Empty)
        {
            throw new InvalidJobException("JobId is missing or empty; the job cannot be tracked.");
        }

        // First check of the time-to-live: a job that waited too long in the broker ends without loading its model.
        if (job.ExpiresAt is { } expiresAt && expiresAt <= time.GetUtcNow())
        {
            await FailAsync(context, job.ModelVersion, ExpiredError(expiresAt), JobStatus.Expired).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrWhiteSpace(job.Model))
        {
            await FailAsync(context, null, "Model is missing: name a registered model.").ConfigureAwait(false);
            return;
        }

        LoadedModel model;
        try
        {
            model = await models.GetAsync(job.Model, job.ModelVersion, context.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ModelNotSupportedException)
        {
            await FailAsync(context, job.ModelVersion, ex.Message).ConfigureAwait(false);
            return;
        }

        var (inputs, error) = PredictInputValidator.Validate(model, job);
        if (error is not null)
        {
            await FailAsync(context, model.Version, error).ConfigureAwait(false);
            return;
        }

        await batchers.For(model).EnqueueAsync(new PendingPrediction(job, inputs!)).ConfigureAwait(false);
    }

    internal static string ExpiredError(DateTimeOffset expiresAt) =>
        $"Expired: still queued at its time-to-live ({expiresAt:O}), so it never ran.";

    private async Task FailAsync(ConsumeContext<SubmitPredictJob> context, int? version, string error, JobStatus status = JobStatus.Failed)
    {
        var job = context.Message;
        var now = time.GetUtcNow();
        var written = await jobs.CompleteAsync([new JobRecord
        {
            JobId = job.JobId,
            Kind = JobKind.Predict,
            Model = job.Model ?? "",
            ModelVersion = version,
            Status = status,
            SubmittedAt = job.SubmittedAt,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            Error = error,
        }], context.CancellationToken).ConfigureAwait(false);
        if (written.Count == 0)
        {
            return; // Already final: a redelivery, or a repeated JobId.
        }

        logger.LogInformation("Job {JobId} ended {Status} before running: {Error}", job.JobId, status, error);
        // Bounded: while the broker is away a publish waits for the connection, and the connection is not restored
        // while this message is in flight (see BatchExecutor.PublishStoredAsync). The failure is stored; the event informs.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        limit.CancelAfter(EventPublishTimeout);
        try
        {
            await context.Publish(new JobFailed
            {
                JobId = job.JobId,
                Kind = JobKind.Predict,
                Model = job.Model ?? "",
                Error = error,
                Status = status,
                FailedAt = now,
                CallbackUrl = job.CallbackUrl,
            }, limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Could not publish the failure of job {JobId} in time; the failure is stored", job.JobId);
        }
    }
}

/// <summary>A message that cannot become a job at all; it goes to the error queue with this reason, never retried.</summary>
public sealed class InvalidJobException(string message) : Exception(message);
