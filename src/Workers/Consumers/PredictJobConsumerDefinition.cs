using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Consumers;

internal sealed class PredictJobConsumerDefinition : ConsumerDefinition<PredictJobConsumer>
{
    private readonly WorkerOptions _options;
    private readonly TransportOptions _transport;

    public PredictJobConsumerDefinition(IOptions<WorkerOptions> options, IOptions<TransportOptions> transport)
    {
        _options = options.Value;
        _transport = transport.Value;
        EndpointName = "predict-jobs";
        // Concurrency equals prefetch: each message waits in its batch until its result is stored,
        // so these two bound the jobs a worker holds and leave the rest in the broker.
        ConcurrentMessageLimit = _options.PrefetchCount;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<PredictJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _options.PrefetchCount;
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            // Quorum queues before RabbitMQ 4 refuse x-max-priority; there the batcher alone honours priority.
            if (_options.BrokerPriority && !_transport.QuorumQueues)
            {
                rabbit.EnablePriority(1);
            }
        }

        // A command that cannot be read still fails its job, where the job can be named (see the recorder); then the message
        // goes to predict-jobs_error.
        UnreadableJobRecorder.AddTo(endpointConfigurator, context, JobKind.Predict);

        // Transient faults (store or model cache unavailable) are retried; a message that cannot be a job is not.
        endpointConfigurator.UseTransientRetry(typeof(InvalidJobException), typeof(ModelNotSupportedException), typeof(UnverifiedSenderException));
    }
}
