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
    public async Task Consume(ConsumeContext<SubmitPredictJob> context)
    {
        var job = context.Message;
        if (job.JobId == Guid.Empty)
        {
            throw new InvalidJobException("JobId is missing or empty; the job cannot be tracked.");
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

    private async Task FailAsync(ConsumeContext<SubmitPredictJob> context, int? version, string error)
    {
        var job = context.Message;
        var existing = await jobs.GetAsync(job.JobId, context.CancellationToken).ConfigureAwait(false);
        if (existing is { IsFinal: true })
        {
            return;
        }

        logger.LogInformation("Job {JobId} failed before running: {Error}", job.JobId, error);
        var now = time.GetUtcNow();
        await jobs.UpsertAsync([new JobRecord
        {
            JobId = job.JobId,
            Kind = JobKind.Predict,
            Model = job.Model ?? "",
            ModelVersion = version,
            Status = JobStatus.Failed,
            SubmittedAt = job.SubmittedAt,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            Error = error,
        }], context.CancellationToken).ConfigureAwait(false);
        await context.Publish(new JobFailed
        {
            JobId = job.JobId,
            Kind = JobKind.Predict,
            Model = job.Model ?? "",
            Error = error,
            FailedAt = now,
            CallbackUrl = job.CallbackUrl,
        }).ConfigureAwait(false);
    }
}

/// <summary>A message that cannot become a job at all; it goes to the error queue with this reason, never retried.</summary>
public sealed class InvalidJobException(string message) : Exception(message);
