using AIaaS.Queue.Contracts;
using MassTransit;

namespace AIaaS.Queue.Producer;

/// <summary>Hands the system's completion events to the <see cref="CompletionWatcher"/>, which looks up at once the jobs
/// among them that this client waits for. The events only wake the watcher; the job's state is still read from the API.</summary>
internal sealed class CompletionEventsConsumer(CompletionWatcher watcher)
    : IConsumer<PredictBatchCompleted>, IConsumer<JobFailed>, IConsumer<TrainJobFinished>
{
    public Task Consume(ConsumeContext<PredictBatchCompleted> context)
    {
        watcher.Notify(context.Message.Jobs.Select(j => j.JobId));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<JobFailed> context)
    {
        watcher.Notify([context.Message.JobId]);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<TrainJobFinished> context)
    {
        watcher.Notify([context.Message.JobId]);
        return Task.CompletedTask;
    }
}
