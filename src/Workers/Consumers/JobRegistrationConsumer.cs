using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Security;
using MassTransit;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>Records submitted jobs as queued while they still wait in the broker: the groups the SDK sends once the
/// broker confirmed their submits (<see cref="JobsQueued"/>), one store write each.</summary>
internal sealed class JobRegistrationConsumer(JobRegistry registry) : IConsumer<JobsQueued>
{
    public Task Consume(ConsumeContext<JobsQueued> context) =>
        registry.RecordAsync(context.Message.Jobs ?? [], context.CancellationToken);
}

/// <summary>With <see cref="WorkerOptions.RegisterEveryCommand"/>: records every <see cref="SubmitPredictJob"/> as queued from
/// a copy of the command, many per store write, for publishers over plain AMQP that send no <see cref="JobsQueued"/>. It
/// costs a second delivery per job.</summary>
internal sealed class CommandRegistrationConsumer(JobRegistry registry) : IConsumer<Batch<SubmitPredictJob>>
{
    public Task Consume(ConsumeContext<Batch<SubmitPredictJob>> context) =>
        registry.RecordAsync([.. context.Message.Select(item => QueuedJob.Of(item.Message))], context.CancellationToken);
}

/// <summary>Writes registrations: insert-if-absent, so a late registration never overwrites a job a worker already finished.
/// An entry whose sender does not verify is left out: nothing is stored for it (the predict consumer counts, logs and
/// dead-letters its command). The write waits out a store outage with the message unacknowledged (<see cref="StoreOutage"/>):
/// giving up after the retry policy's few seconds would move the registrations to the error queue, and the jobs would be
/// unknown until they ran.</summary>
internal sealed class JobRegistry(IJobStore jobs, SenderVerifier senders, StoreOutage outage, AiaasMetrics metrics)
{
    /// <summary>The registry's endpoint (before the transport's <c>EndpointPrefix</c>).</summary>
    public const string EndpointName = "job-registry";

    public async Task RecordAsync(IReadOnlyList<QueuedJob> queued, CancellationToken cancellationToken)
    {
        var records = new List<JobRecord>(queued.Count);
        foreach (var job in queued)
        {
            if (job is null || job.JobId == Guid.Empty || string.IsNullOrWhiteSpace(job.Model))
            {
                continue;
            }

            var sender = await senders.VerifyAsync(job.Sender, ApiKeyFormat.PredictPurpose, job.JobId, cancellationToken).ConfigureAwait(false);
            if (!sender.Accepted)
            {
                continue;
            }

            records.Add(new JobRecord
            {
                JobId = job.JobId,
                TenantId = sender.TenantId,
                Kind = JobKind.Predict,
                Model = Tenants.StoredModelName(sender.TenantId, job.Model),
                ModelVersion = job.ModelVersion,
                Status = JobStatus.Queued,
                SubmittedAt = job.SubmittedAt,
                CallbackUrl = job.CallbackUrl,
            });
        }

        if (records.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            await outage.WriteAsync(() => jobs.InsertIfAbsentAsync(records, cancellationToken), $"{records.Count} job registrations").ConfigureAwait(false);
            metrics.StageTimed("registry.write", Stopwatch.GetElapsedTime(started));
        }
    }
}

internal sealed class JobRegistrationConsumerDefinition : ConsumerDefinition<JobRegistrationConsumer>
{
    public JobRegistrationConsumerDefinition()
    {
        EndpointName = JobRegistry.EndpointName;
        ConcurrentMessageLimit = 2;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<JobRegistrationConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseTransientRetry();
}

internal sealed class CommandRegistrationConsumerDefinition : ConsumerDefinition<CommandRegistrationConsumer>
{
    private const int BatchLimit = 200;

    public CommandRegistrationConsumerDefinition()
    {
        EndpointName = JobRegistry.EndpointName;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CommandRegistrationConsumer> consumerConfigurator, IRegistrationContext context)
    {
        // Prefetch above the batch limit, else the batch never fills (MassTransit's batching guidance).
        endpointConfigurator.PrefetchCount = BatchLimit * 2;
        endpointConfigurator.UseTransientRetry();
        consumerConfigurator.Options<BatchOptions>(o => o
            .SetMessageLimit(BatchLimit)
            .SetTimeLimit(TimeSpan.FromMilliseconds(20))
            .SetConcurrencyLimit(2));
    }
}
