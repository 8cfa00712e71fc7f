using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Consumers;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Training;

/// <summary>
/// Takes a submitted train job off the broker into the store's train queue and acknowledges it at once: training can
/// run for hours, far past RabbitMQ's consumer acknowledgement timeout, so no message is held while it runs. The
/// store's lease then keeps the job alive and hands it to another worker if this one dies. Its writes wait out a store
/// outage with the message unacknowledged (<see cref="StoreOutage"/>), so an outage never sends a train job to the error queue.
/// </summary>
internal sealed class TrainJobConsumer(
    ITrainingQueue training,
    IJobEventStore events,
    IJobStore jobs,
    TrainingRunner runner,
    SenderVerifier senders,
    SenderRefusals refusals,
    StoreOutage outage,
    IOptions<WorkerOptions> options,
    TimeProvider time) : IConsumer<SubmitTrainJob>
{
    public async Task Consume(ConsumeContext<SubmitTrainJob> context)
    {
        var job = context.Message;
        if (job.JobId == Guid.Empty)
        {
            return;
        }

        var sender = await senders.VerifyAsync(job.Sender, ApiKeyFormat.TrainPurpose, job.JobId, context.CancellationToken).ConfigureAwait(false);
        if (!sender.Accepted)
        {
            throw refusals.Refuse(nameof(SubmitTrainJob), job.JobId, sender);
        }

        if (SubmissionRules.TrainJobProblem(job, options.Value.MaxInputValues) is { } problem)
        {
            // Insert-if-absent: never overwrites a job this tenant holds under this id.
            var failedAt = time.GetUtcNow();
            await outage.WriteAsync(() => jobs.InsertIfAbsentAsync([new JobRecord
            {
                JobId = job.JobId,
                TenantId = sender.TenantId,
                Kind = JobKind.Train,
                Model = Tenants.StoredModelName(sender.TenantId, job.Model),
                Status = JobStatus.Failed,
                SubmittedAt = job.SubmittedAt,
                CompletedAt = failedAt,
                Error = problem,
            }], context.CancellationToken), $"the failure of train job {job.JobId}").ConfigureAwait(false);
            await outage.WriteAsync(() => events.AppendJobEventsAsync(sender.TenantId, job.JobId,
                [new JobEventView { Sequence = 0, Type = JobEventTypes.Failed, At = failedAt, Message = problem }], context.CancellationToken),
                $"the failure event of train job {job.JobId}").ConfigureAwait(false);

            return;
        }

        // The queued request keeps the tenant and the qualified model name, not the proof: the runner needs nothing else.
        var accepted = job with { Model = Tenants.QualifyModel(sender.TenantId, job.Model), Sender = new TenantCredentials { TenantId = sender.TenantId } };
        if (await outage.WriteAsync(() => training.EnqueueTrainJobAsync(accepted, context.CancellationToken), $"train job {job.JobId}").ConfigureAwait(false))
        {
            runner.Wake();
        }
    }
}

internal sealed class TrainJobConsumerDefinition : ConsumerDefinition<TrainJobConsumer>
{
    public TrainJobConsumerDefinition()
    {
        EndpointName = "train-jobs";
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TrainJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 8;
        // A command that cannot be read still fails its job, where the job can be named (see the recorder).
        UnreadableJobRecorder.AddTo(endpointConfigurator, context, JobKind.Train);
        endpointConfigurator.UseTransientRetry(typeof(UnverifiedSenderException));
    }
}
