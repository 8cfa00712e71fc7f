using AIaaS.Queue.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>Binds the client's completion queue to its own tenant's events only (<see cref="ClientEventRouting"/>), never
/// to the events' own exchanges, where every tenant's events go.</summary>
internal sealed class CompletionEventsConsumerDefinition(IOptions<AiaasClientOptions> options) : ConsumerDefinition<CompletionEventsConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CompletionEventsConsumer> consumerConfigurator, IRegistrationContext context)
    {
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.ConfigureConsumeTopology = false;
            rabbit.Bind(ClientEventRouting.ExchangeName, clients =>
            {
                clients.ExchangeType = RabbitMQ.Client.ExchangeType.Topic;
                clients.RoutingKey = ClientEventRouting.RoutingKey(options.Value.TenantId);
            });
        }
    }
}
