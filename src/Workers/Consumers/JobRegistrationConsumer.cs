using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Security;
using MassTransit;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>Records submitted jobs as queued while they still wait in the broker, many per store write.
/// Insert-if-absent, so a late registration never overwrites a job a worker already finished. A message whose sender
/// does not verify is left out: nothing is stored for it, and the predict consumer counts, logs and dead-letters it.
/// The write waits out a store outage with the batch unacknowledged (<see cref="StoreOutage"/>): giving up after the
/// retry policy's few seconds would move the registrations to the error queue, and the jobs would be unknown until they ran.</summary>
internal sealed class JobRegistrationConsumer(IJobStore jobs, SenderVerifier senders, StoreOutage outage, AiaasMetrics metrics) : IConsumer<Batch<SubmitPredictJob>>
{
    public async Task Consume(ConsumeContext<Batch<SubmitPredictJob>> context)
    {
        var records = new List<JobRecord>(context.Message.Length);
        foreach (var item in context.Message)
        {
            var job = item.Message;
            if (job.JobId == Guid.Empty)
            {
                continue;
            }

            var sender = await senders.VerifyAsync(job.Sender, ApiKeyFormat.PredictPurpose, job.JobId, context.CancellationToken).ConfigureAwait(false);
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
            await outage.WriteAsync(() => jobs.InsertIfAbsentAsync(records, context.CancellationToken), $"{records.Count} job registrations").ConfigureAwait(false);
            metrics.StageTimed("registry.write", Stopwatch.GetElapsedTime(started));
        }
    }
}

internal sealed class JobRegistrationConsumerDefinition : ConsumerDefinition<JobRegistrationConsumer>
{
    private const int BatchLimit = 200;

    public JobRegistrationConsumerDefinition()
    {
        EndpointName = "job-registry";
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<JobRegistrationConsumer> consumerConfigurator, IRegistrationContext context)
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
