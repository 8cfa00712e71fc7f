using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>Predict jobs that ask for an explanation, moved here by <see cref="PredictJobConsumer"/>: the same checks and
/// failures, then the prediction and its attributions, outside the batcher.</summary>
internal sealed class ExplainJobConsumer(PredictJobConsumer predict) : IConsumer<SubmitPredictJob>
{
    public Task Consume(ConsumeContext<SubmitPredictJob> context) => predict.ConsumeAsync(context, explainHere: true);
}

/// <summary>
/// The explanation queue: its own concurrency limit (<see cref="WorkerOptions.ExplainConcurrency"/>), so that explanations,
/// each thousands of model rows, never take the predict queue's slots. It is not bound to the <see cref="SubmitPredictJob"/>
/// exchange (which feeds <c>predict-jobs</c>): only the predict consumer sends to it.
/// </summary>
internal sealed class ExplainJobConsumerDefinition : ConsumerDefinition<ExplainJobConsumer>
{
    public const string QueueName = "explain-jobs";

    public static Uri Address { get; } = new($"queue:{QueueName}");

    private readonly WorkerOptions _options;

    public ExplainJobConsumerDefinition(IOptions<WorkerOptions> options)
    {
        _options = options.Value;
        EndpointName = QueueName;
        ConcurrentMessageLimit = _options.ExplainConcurrency;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExplainJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _options.ExplainConcurrency;
        endpointConfigurator.ConfigureConsumeTopology = false;
        endpointConfigurator.UseTransientRetry(typeof(InvalidJobException), typeof(ModelNotSupportedException), typeof(UnverifiedSenderException));
    }
}
