using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Training;

/// <summary>Records a cancellation. A queued train job ends cancelled at once; a running one is flagged, and the worker
/// running it ends its training process at its next heartbeat, or at once when that worker is this one. Only the job's
/// own tenant can cancel it: the job is read under the verified sender's tenant (ids are per tenant), so a request names
/// only that tenant's job, and one whose sender does not verify is dead-lettered (<see cref="SenderRefusals"/>).</summary>
internal sealed class CancelJobConsumer(ITrainingQueue training, IJobStore jobs, TrainingRunner runner, SenderVerifier senders,
    SenderRefusals refusals, TimeProvider time, ILogger<CancelJobConsumer> logger) : IConsumer<CancelJob>
{
    public async Task Consume(ConsumeContext<CancelJob> context)
    {
        var request = context.Message;
        var sender = await senders.VerifyAsync(request.Sender, ApiKeyFormat.CancelPurpose, request.JobId, context.CancellationToken).ConfigureAwait(false);
        if (!sender.Accepted)
        {
            throw refusals.Refuse(nameof(CancelJob), request.JobId, sender);
        }

        var job = await jobs.GetAsync(sender.TenantId, request.JobId, context.CancellationToken).ConfigureAwait(false);
        var status = job is null || job.Kind == JobKind.Train
            ? await training.RequestCancelAsync(sender.TenantId, request.JobId, context.CancellationToken).ConfigureAwait(false)
            : null;
        if (status is null && (job is null || job.Kind == JobKind.Train))
        {
            // Not stored yet: a cancel sent right after its train job travels another queue and may overtake it. Wait for
            // the job with the endpoint's transient retry (about 6 s in all); after the last attempt, drop the cancel.
            if (context.GetRetryAttempt() < TransientRetry.RetryLimit)
            {
                throw new JobNotYetStoredException(request.JobId);
            }

            logger.LogWarning("Ignored cancel of job {JobId} from tenant {TenantId}: no such job of this tenant", request.JobId, sender.TenantId);
            return;
        }

        if (status == JobStatus.Running)
        {
            runner.CancelLocal(sender.TenantId, request.JobId);
        }
        else if (status == JobStatus.Cancelled && (job is null || job.Status == JobStatus.Queued)
            && await training.GetTrainRequestAsync(sender.TenantId, request.JobId, context.CancellationToken).ConfigureAwait(false) is { } submitted)
        {
            // Cancelled before it ever ran: no worker will announce its end, so this does (the webhook, the SDK's wait).
            await StoredEventPublisher.PublishAsync(context, new TrainJobFinished
            {
                JobId = request.JobId,
                Model = submitted.Model,
                Status = JobStatus.Cancelled,
                Error = "cancelled before it started",
                TenantId = sender.TenantId,
                FinishedAt = time.GetUtcNow(),
            }, logger, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>A cancel whose train job is not stored yet; retried, as the job may still be on its way.</summary>
internal sealed class JobNotYetStoredException(Guid jobId) : Exception($"Job {jobId} is not stored yet; the cancel waits for it.");

internal sealed class CancelJobConsumerDefinition : ConsumerDefinition<CancelJobConsumer>
{
    public CancelJobConsumerDefinition()
    {
        EndpointName = "cancel-jobs";
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CancelJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseTransientRetry(typeof(UnverifiedSenderException));
    }
}
