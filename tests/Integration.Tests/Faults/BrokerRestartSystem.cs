using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using RabbitMQ.Client;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// Two worker processes, the ResultApi and an SDK client on a RabbitMQ node of the fixture's own
/// (<see cref="PrivateRabbitMqNode"/>), which the test crashes and starts again: a real broker restart, with classic or
/// quorum queues.
/// </summary>
public abstract class BrokerRestartSystem : DistributedSystem
{
    private PrivateRabbitMqNode? _node;

    internal PrivateRabbitMqNode Node => _node ?? throw new InvalidOperationException("The fixture is not initialised.");

    public abstract bool QuorumQueues { get; }

    protected override int WorkerCount => 2;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Transport__QuorumQueues"] = QuorumQueues ? "true" : "false",
        // MassTransit's endpoint states (Consumer Stopping, Stopped, Connect), in the worker output a failure writes out.
        ["Logging__LogLevel__MassTransit"] = "Debug",
    };

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Transport:QuorumQueues"] = QuorumQueues ? "true" : "false",
    };

    protected override async Task<Uri> ConnectBrokerAsync(CancellationToken cancellationToken) =>
        (_node ??= await PrivateRabbitMqNode.StartAsync(cancellationToken)).Uri;

    // Short enough that submits caught by the restart fail visibly instead of waiting it out.
    protected override void ConfigureClientOptions(AiaasClientOptions options) => options.PublishTimeout = TimeSpan.FromSeconds(4);

    /// <summary>The node has no management plugin: a passive declare counts the consumers.</summary>
    protected override async Task<int> ConsumerCountAsync(string queue, CancellationToken cancellationToken)
    {
        await using var connection = await new ConnectionFactory { Uri = Node.Uri }.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (int)(await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).ConsumerCount;
    }

    /// <summary>Messages ready in <paramref name="queue"/>: waiting in the broker, not yet handed to a worker.</summary>
    internal async Task<uint> ReadyCountAsync(string queue, CancellationToken cancellationToken)
    {
        await using var connection = await new ConnectionFactory { Uri = Node.Uri }.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
    }

    /// <summary>Whether <paramref name="queue"/> is a quorum queue: the broker refuses a declaration whose type differs.</summary>
    internal async Task<bool> IsQuorumQueueAsync(string queue, CancellationToken cancellationToken)
    {
        await using var connection = await new ConnectionFactory { Uri = Node.Uri }.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
        {
            return false;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}

public sealed class ClassicQueuesRestartSystem : BrokerRestartSystem
{
    public override bool QuorumQueues => false;
}

public sealed class QuorumQueuesRestartSystem : BrokerRestartSystem
{
    public override bool QuorumQueues => true;
}
