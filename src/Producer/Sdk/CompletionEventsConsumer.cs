using AIaaS.Queue.Contracts;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>Hands the system's completion events to the <see cref="CompletionWatcher"/>, which looks up at once the jobs
/// among them that this client waits for. The events only wake the watcher; the job's state is still read from the API.</summary>
internal sealed class CompletionEventsConsumer(CompletionWatcher watcher, IOptions<AiaasClientOptions> options, ILogger<CompletionEventsConsumer> logger)
    : IConsumer<PredictBatchCompleted>, IConsumer<JobFailed>, IConsumer<TrainJobFinished>
{
    public Task Consume(ConsumeContext<PredictBatchCompleted> context) => Notify([.. context.Message.Jobs.Select(j => j.JobId)]);

    public Task Consume(ConsumeContext<JobFailed> context) => Notify([context.Message.JobId]);

    public Task Consume(ConsumeContext<TrainJobFinished> context) => Notify([context.Message.JobId]);

    private Task Notify(Guid[] jobIds)
    {
        // Which events reach a client is the broker's routing: this line shows it when a wait seems slow.
        logger.LogDebug("Client of tenant {TenantId} heard the completion of jobs {JobIds}",
            ClientEventRouting.RoutingKey(options.Value.TenantId), string.Join(",", jobIds));
        watcher.Notify(jobIds);
        return Task.CompletedTask;
    }
}
