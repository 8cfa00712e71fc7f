using AIaaS.Queue.Contracts;
using MassTransit;
using RabbitMQ.Client;

namespace AIaaS.Queue.ServiceDefaults;

/// <summary>The RabbitMQ side of <see cref="ClientEventRouting"/>: completion events published with their tenant as routing
/// key, and their exchanges bound into the clients' topic exchange.</summary>
public static class ClientEventTopology
{
    /// <summary>Publishes the completion events with their tenant as routing key. Their own exchanges stay fanout, which
    /// ignores the key, so the webhook consumer, the dashboard and every API listener still hear every tenant's events.</summary>
    public static void RouteCompletionEventsByTenant(this IRabbitMqBusFactoryConfigurator cfg)
    {
        cfg.Send<PredictBatchCompleted>(s => s.UseRoutingKeyFormatter(c => ClientEventRouting.RoutingKey(c.Message.TenantId)));
        cfg.Send<JobFailed>(s => s.UseRoutingKeyFormatter(c => ClientEventRouting.RoutingKey(c.Message.TenantId)));
        cfg.Send<TrainJobFinished>(s => s.UseRoutingKeyFormatter(c => ClientEventRouting.RoutingKey(c.Message.TenantId)));
    }

    /// <summary>
    /// Binds the completion events' exchanges into <see cref="ClientEventRouting.ExchangeName"/> (a fanout source keeps each
    /// message's routing key), and <paramref name="endpoint"/> to that exchange with every key, so that it hears every tenant's
    /// events through it. The API does this, on the endpoint of its completion waits, because a client must not: binding
    /// from the events' own exchanges needs read permission on them, with which a client could bind its queue there and hear
    /// every tenant. The bindings are between durable exchanges, so they outlive the endpoint's temporary queue.
    /// </summary>
    public static void HearEveryTenantThroughClientEvents(this IRabbitMqReceiveEndpointConfigurator endpoint)
    {
        endpoint.ConfigureConsumeTopology = false;
        endpoint.Bind(ClientEventRouting.ExchangeName, clients =>
        {
            clients.ExchangeType = ExchangeType.Topic;
            clients.RoutingKey = "#";
            foreach (var type in new[] { typeof(PredictBatchCompleted), typeof(JobFailed), typeof(TrainJobFinished) })
            {
                // MassTransit's entity name for a message type, the exchange its publishers declare (durable fanout).
                clients.Bind($"{type.Namespace}:{type.Name}", events => events.ExchangeType = ExchangeType.Fanout);
            }
        });
    }
}
