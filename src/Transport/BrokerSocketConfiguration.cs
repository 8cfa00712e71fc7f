using MassTransit;

namespace AIaaS.Queue.Transport;

/// <summary>Gives a MassTransit RabbitMQ host the broker connection socket that every bus of the system uses.</summary>
public static class BrokerSocketConfiguration
{
    /// <summary>
    /// Opens the host's connections with a socket that drops writes once the connection has failed, so that a broken
    /// connection's acks and publishes fail instead of waiting forever, and MassTransit's reconnect is not held up by them
    /// (RabbitMQ.Client 7.2.2's issue 1930). Sets the host's <see cref="IRabbitMqHostConfigurator.OnRefreshConnectionFactory"/>.
    /// </summary>
    public static void UseBrokerSocket(this IRabbitMqHostConfigurator host)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.OnRefreshConnectionFactory = factory =>
        {
            factory.SocketFactory = BrokerSocket.Create;
            return Task.CompletedTask;
        };
    }
}
