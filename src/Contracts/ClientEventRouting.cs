namespace AIaaS.Queue.Contracts;

/// <summary>
/// How completion events (<see cref="PredictBatchCompleted"/>, <see cref="JobFailed"/>, <see cref="TrainJobFinished"/>) reach
/// SDK clients on RabbitMQ: each is published with its tenant as routing key, and the API binds their exchanges into one
/// topic exchange, <see cref="ExchangeName"/>, from which each client's queue is bound by its own tenant's key only. A client
/// therefore never hears another tenant's job ids, models or errors; the broker roles (<c>scripts/rabbitmq-users.sh</c>)
/// let a tenant's client user bind that exchange with its own tenant's key and nothing else.
/// </summary>
public static class ClientEventRouting
{
    /// <summary>The topic exchange SDK clients bind their completion queues to.</summary>
    public const string ExchangeName = "aiaas.client-events";

    /// <summary>The routing key of a tenant's events: its id, or the default tenant's ("default", as in the Domain's Tenants).</summary>
    public static string RoutingKey(string? tenantId) => string.IsNullOrEmpty(tenantId) ? "default" : tenantId;
}
