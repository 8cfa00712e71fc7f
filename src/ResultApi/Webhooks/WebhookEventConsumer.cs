using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>
/// Turns completion events into scheduled webhook deliveries. An event only names the jobs to look at: every webhook is
/// built from the stored job (its final status, its tenant's model, the callback URL it was submitted with), because
/// anyone holding broker credentials can publish an event. A forged event for an unknown or unfinished job schedules
/// nothing, and one for a finished job schedules exactly the webhook the real event does (same id, same body), which the
/// store keeps once. The dispatcher then sends them.
/// </summary>
internal sealed class WebhookEventConsumer(IJobStore jobs, ITrainingQueue training, IBulkStore bulk, IWebhookStore store, WebhookDispatcher dispatcher,
    IOptions<WebhookOptions> options, ILogger<WebhookEventConsumer> logger)
    : IConsumer<PredictBatchCompleted>, IConsumer<JobFailed>, IConsumer<TrainJobFinished>, IConsumer<BulkJobFinished>
{
    public Task Consume(ConsumeContext<PredictBatchCompleted> context) =>
        ScheduleJobsAsync(CompletionEventKeys.Of(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<JobFailed> context) => ScheduleJobsAsync(CompletionEventKeys.Of(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<TrainJobFinished> context) => ScheduleJobsAsync(CompletionEventKeys.Of(context.Message), context.CancellationToken);

    public async Task Consume(ConsumeContext<BulkJobFinished> context)
    {
        var tenantId = Tenants.OfMessage(context.Message.TenantId, context.Message.Model);
        var job = await bulk.GetBulkJobAsync(tenantId, context.Message.BulkJobId, context.CancellationToken).ConfigureAwait(false);
        // The finalizer publishes the end of a bulk job just before it stores it (so that a failed publish is redelivered):
        // a job still closing is given a few seconds to reach the store's final state before the event is judged.
        for (var wait = 0; job is { IsFinal: false, Status: BulkJobStatus.Finalizing or BulkJobStatus.Cancelling or BulkJobStatus.Running } && wait < 50; wait++)
        {
            await Task.Delay(200, context.CancellationToken).ConfigureAwait(false);
            job = await bulk.GetBulkJobAsync(tenantId, context.Message.BulkJobId, context.CancellationToken).ConfigureAwait(false);
        }

        if (job is not { IsFinal: true, CallbackUrl: { Length: > 0 } })
        {
            LogIgnored(context.Message.BulkJobId, job);
            return;
        }

        await ScheduleAsync([WebhookEvents.CreateBulk(options.Value, job)], context.CancellationToken).ConfigureAwait(false);
    }

    private async Task ScheduleJobsAsync(IReadOnlyCollection<JobKey> jobIds, CancellationToken cancellationToken)
    {
        var stored = await jobs.GetManyAsync(jobIds, includeOutputs: false, cancellationToken).ConfigureAwait(false);
        var deliveries = new List<WebhookDelivery>(stored.Count);
        foreach (var job in stored)
        {
            if (!job.IsFinal)
            {
                LogIgnored(job.JobId, job);
                continue;
            }

            // A train job's callback URL is in the request it was queued with; a predict job's in its row.
            var url = job.Kind == JobKind.Train
                ? (await training.GetTrainRequestAsync(job.TenantId, job.JobId, cancellationToken).ConfigureAwait(false))?.CallbackUrl
                : job.CallbackUrl;
            if (!string.IsNullOrEmpty(url))
            {
                deliveries.Add(WebhookEvents.Create(options.Value, url, job));
            }
        }

        if (stored.Count < jobIds.Count)
        {
            logger.LogWarning("A completion event named {Unknown} job(s) the store does not know; no webhook for them", jobIds.Count - stored.Count);
        }

        await ScheduleAsync(deliveries, cancellationToken).ConfigureAwait(false);
    }

    private void LogIgnored(Guid id, object? stored)
    {
        if (stored is null)
        {
            logger.LogWarning("A completion event named job {JobId}, which the store does not know; no webhook", id);
        }
        else
        {
            logger.LogDebug("A completion event named job {JobId}, which is not final in the store or has no callback URL; no webhook", id);
        }
    }

    private async Task ScheduleAsync(List<WebhookDelivery> deliveries, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0)
        {
            return;
        }

        await store.ScheduleWebhooksAsync(deliveries, cancellationToken).ConfigureAwait(false);
        dispatcher.Wake();
    }
}

internal sealed class WebhookEventConsumerDefinition : ConsumerDefinition<WebhookEventConsumer>
{
    public WebhookEventConsumerDefinition()
    {
        // One queue shared by every API instance: each event is scheduled once, by whichever instance takes it.
        EndpointName = "webhook-events";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<WebhookEventConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 16;
        endpointConfigurator.UseTransientRetry();
    }
}
