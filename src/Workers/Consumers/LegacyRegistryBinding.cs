using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>
/// Removes, at start, the binding that gave the job registry a copy of every <see cref="SubmitPredictJob"/> (the registry's
/// design before <see cref="JobsQueued"/>), unless <see cref="WorkerOptions.RegisterEveryCommand"/> keeps it. MassTransit
/// declares bindings but never removes one, so a broker that ran an earlier version would go on routing every command
/// to the registry, a second delivery per job that the registry now only skips.
/// </summary>
internal sealed class LegacyRegistryBinding(IConfiguration configuration, IOptions<WorkerOptions> options, ILogger<LegacyRegistryBinding> logger)
    : IHostedService
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var transport = configuration.GetTransportOptions();
        if (transport.EffectiveKind != TransportKind.RabbitMq || !options.Value.RegisterQueuedJobs || options.Value.RegisterEveryCommand)
        {
            return;
        }

        var registry = transport.EndpointPrefix + JobRegistry.EndpointName;
        var commands = MessageUrn.ForTypeString<SubmitPredictJob>()["urn:message:".Length..];
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        try
        {
            var factory = new ConnectionFactory { Uri = transport.RabbitMqUri!, ClientProvidedName = "aiaas-worker-topology" };
            await using var connection = await factory.CreateConnectionAsync(limit.Token).ConfigureAwait(false);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: limit.Token).ConfigureAwait(false);
            await channel.ExchangeUnbindAsync(registry, commands, routingKey: "", cancellationToken: limit.Token).ConfigureAwait(false);
            logger.LogDebug("Exchange {Registry} is not bound to {Commands}", registry, commands);
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            // Neither exchange exists yet: a broker that never ran an earlier version.
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or OperationCanceledException or OperationInterruptedException)
        {
            logger.LogWarning(ex, "Could not check that {Registry} takes no copy of every {Commands}; if an earlier version bound it, unbind it by hand",
                registry, commands);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
