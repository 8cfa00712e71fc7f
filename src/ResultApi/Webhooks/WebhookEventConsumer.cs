using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>
/// Turns completion events into scheduled webhook deliveries. The events carry each job's callback URL, so this costs
/// one store write per event that has any, and nothing for the rest. The dispatcher then sends them.
/// </summary>
internal sealed class WebhookEventConsumer(IWebhookStore store, WebhookDispatcher dispatcher, IOptions<WebhookOptions> options, TimeProvider time)
    : IConsumer<PredictBatchCompleted>, IConsumer<JobFailed>, IConsumer<TrainJobFinished>, IConsumer<BulkJobFinished>
{
    public Task Consume(ConsumeContext<PredictBatchCompleted> context)
    {
        var batch = context.Message;
        return ScheduleAsync(batch.Jobs.Where(j => !string.IsNullOrEmpty(j.CallbackUrl))
            .Select(j => WebhookEvents.Create(options.Value, j.CallbackUrl!, j.JobId, JobKind.Predict, batch.Model, j.Status,
                batch.ModelVersion, j.Error, time.GetUtcNow()))
            .ToList(), context.CancellationToken);
    }

    public Task Consume(ConsumeContext<JobFailed> context)
    {
        var job = context.Message;
        return string.IsNullOrEmpty(job.CallbackUrl) ? Task.CompletedTask : ScheduleAsync(
            [WebhookEvents.Create(options.Value, job.CallbackUrl, job.JobId, job.Kind, job.Model, job.Status, null, job.Error, time.GetUtcNow())],
            context.CancellationToken);
    }

    public Task Consume(ConsumeContext<TrainJobFinished> context)
    {
        var job = context.Message;
        return string.IsNullOrEmpty(job.CallbackUrl) ? Task.CompletedTask : ScheduleAsync(
            [WebhookEvents.Create(options.Value, job.CallbackUrl, job.JobId, JobKind.Train, job.Model, job.Status, job.ModelVersion, job.Error,
                time.GetUtcNow())],
            context.CancellationToken);
    }

    public Task Consume(ConsumeContext<BulkJobFinished> context)
    {
        var job = context.Message;
        return string.IsNullOrEmpty(job.CallbackUrl) ? Task.CompletedTask
            : ScheduleAsync([WebhookEvents.CreateBulk(options.Value, job, time.GetUtcNow())], context.CancellationToken);
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
