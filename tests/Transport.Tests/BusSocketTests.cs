using System.Net.Sockets;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ServiceDefaults;
using MassTransit.RabbitMqTransport.Configuration;
using MassTransit.Transports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace AIaaS.Queue.Transport.Tests;

/// <summary>Every bus the system opens to a broker, the SDK's own as well as the hosts', connects through
/// <see cref="BrokerSocket"/>: a connection the broker dropped must not leave its acks and publishes waiting forever.</summary>
public sealed class BusSocketTests
{
    // Nothing listens there, and nothing connects: the buses are built, never started.
    private static readonly Uri Broker = new("amqp://127.0.0.1:1/");

    [Fact]
    public async Task TheSdksOwnBusConnectsThroughTheBrokerSocket()
    {
        var services = new ServiceCollection();
        services.AddAiaasClient(o => o.RabbitMqUri = Broker);
        await using var provider = services.BuildServiceProvider();

        await AssertConnectsThroughBrokerSocketAsync(provider.GetRequiredService<IBusInstance<IAiaasBus>>());
    }

    [Fact]
    public async Task TheHostsBusConnectsThroughTheBrokerSocket()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Transport:RabbitMqUri"] = Broker.AbsoluteUri,
        }).Build();
        var services = new ServiceCollection();
        services.AddAiaasBus(configuration);
        await using var provider = services.BuildServiceProvider();

        await AssertConnectsThroughBrokerSocketAsync(provider.GetRequiredService<IBusInstance>());
    }

    /// <summary>The host's settings refresh a connection factory before each connection attempt (its
    /// <c>OnRefreshConnectionFactory</c>); the socket factory they leave on it is the one the connection opens with.</summary>
    private static async Task AssertConnectsThroughBrokerSocketAsync(IBusInstance bus)
    {
        var host = Assert.IsAssignableFrom<IRabbitMqHostConfiguration>(bus.HostConfiguration);
        var factory = new ConnectionFactory();
        await host.Settings.Refresh(factory);

        using var socket = factory.SocketFactory(AddressFamily.InterNetwork);
        Assert.IsType<BrokerSocket>(socket);
    }
}
