using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using MassTransit;

namespace AIaaS.Queue.Workers.Training;

/// <summary>Records a cancellation. A queued train job ends cancelled at once; a running one is flagged, and the worker
/// running it ends its training process at its next heartbeat, or at once when that worker is this one.</summary>
internal sealed class CancelJobConsumer(ITrainingStore training, TrainingRunner runner) : IConsumer<CancelJob>
{
    public async Task Consume(ConsumeContext<CancelJob> context)
    {
        var status = await training.RequestCancelAsync(context.Message.JobId, context.CancellationToken).ConfigureAwait(false);
        if (status == JobStatus.Running)
        {
            runner.CancelLocal(context.Message.JobId);
        }
    }
}

internal sealed class CancelJobConsumerDefinition : ConsumerDefinition<CancelJobConsumer>
{
    public CancelJobConsumerDefinition()
    {
        EndpointName = "cancel-jobs";
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CancelJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(400)));
    }
}
