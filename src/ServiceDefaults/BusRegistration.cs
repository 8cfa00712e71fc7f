using AIaaS.Queue.Transport;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ServiceDefaults;

public static class BusRegistration
{
    /// <summary>
    /// Reads the <c>Transport</c> section, the one switch between the embedded default and a broker.
    /// </summary>
    public static TransportOptions GetTransportOptions(this IConfiguration configuration)
    {
        var options = new TransportOptions();
        configuration.GetSection(TransportOptions.SectionName).Bind(options);
        return options;
    }

    /// <summary>A process that only makes sense on a broker (a worker, or the ResultApi on its own): with no transport
    /// configured, the local one.</summary>
    public static void UseLocalBrokerUnlessConfigured(this IConfiguration configuration)
    {
        if (configuration.GetTransportOptions() is { Kind: null, RabbitMqUri: null })
        {
            configuration[$"{TransportOptions.SectionName}:{nameof(TransportOptions.RabbitMqUri)}"] = "amqp://127.0.0.1:5672/";
        }
    }

    private static void BoundDeadLetters(IRabbitMqQueueBindingConfigurator queue, TransportOptions transport)
    {
        if (transport.DeadLetterMaxLength > 0)
        {
            queue.SetQueueArgument("x-max-length", transport.DeadLetterMaxLength);
        }

        if (transport.DeadLetterTimeToLive > TimeSpan.Zero)
        {
            queue.SetQueueArgument("x-message-ttl", (long)transport.DeadLetterTimeToLive.TotalMilliseconds);
        }
    }

    /// <summary>
    /// Adds MassTransit on the configured transport; <paramref name="configure"/> adds the process's consumers.
    /// Endpoints are kebab-case and configured from their consumer definitions.
    /// </summary>
    public static IServiceCollection AddAiaasBus(this IServiceCollection services, IConfiguration configuration,
        Action<IBusRegistrationConfigurator>? configure = null)
    {
        var transport = configuration.GetTransportOptions();
        services.AddAiaasTelemetry(configuration);
        services.AddOptions<TransportOptions>().BindConfiguration(TransportOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<TransportOptions>, TransportOptionsValidator>();

        services.AddMassTransit(x =>
        {
            // A job system must not call out to third parties: MassTransit's usage telemetry stays off.
            x.ConfigureUsageTelemetryOptions(o => o.Enabled = false);
            x.SetEndpointNameFormatter(new KebabCaseEndpointNameFormatter(transport.EndpointPrefix, false));
            configure?.Invoke(x);

            // Before deserialization: a body of tens of MB becomes gigabytes of objects, whoever sent it.
            x.AddConfigureEndpointsCallback((_, cfg) => cfg.ConfigureReceive(r => r.UseFilter(new MessageSizeFilter(transport.MaxMessageBytes))));

            // No Fault<T> events: nothing in the system consumes them (a job's failure is its stored status and JobFailed),
            // and a fault repeats the whole message. The fault of a 10 MB command that a worker refused could not be
            // published (its confirm never came); the message then went back to its queue, and the worker read and refused
            // it again and again instead of moving it to the error queue.
            x.AddConfigureEndpointsCallback((_, cfg) => cfg.PublishFaults = false);

            // Per consumer endpoint: SetQuorumQueue on the bus configurator reaches only the bus's own temporary endpoint,
            // never the consumers' queues. These callbacks run for ConfigureEndpoints only, which configures durable
            // consumer queues here; the temporary endpoints the API connects later (completion waiters, the dashboard)
            // stay classic, as auto-delete queues must.
            if (transport.QuorumQueues)
            {
                x.AddConfigureEndpointsCallback((_, cfg) => (cfg as IRabbitMqReceiveEndpointConfigurator)?.SetQuorumQueue());
            }

            if (transport.EffectiveKind == TransportKind.RabbitMq)
            {
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.AllowNonFiniteNumbers();
                    cfg.Host(transport.RabbitMqUri!, h =>
                    {
                        h.ConnectionName(AppDomain.CurrentDomain.FriendlyName);
                        h.UseBrokerSocket();
                    });

                    // Error and skipped queues are declared by MassTransit when their first message arrives; bounding them
                    // there keeps a flood of bad messages from filling the broker. The arguments are fixed at declaration:
                    // changing the bounds of existing queues needs those queues deleted (or a broker policy instead).
                    cfg.SendTopology.ConfigureErrorSettings = queue => BoundDeadLetters(queue, transport);
                    cfg.SendTopology.ConfigureDeadLetterSettings = queue => BoundDeadLetters(queue, transport);
                    cfg.RouteCompletionEventsByTenant();
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.AllowNonFiniteNumbers();
                    cfg.ConfigureEndpoints(context);
                });
            }
        });
        return services;
    }

    private sealed class TransportOptionsValidator : IValidateOptions<TransportOptions>
    {
        public ValidateOptionsResult Validate(string? name, TransportOptions options) =>
            options.EffectiveKind == TransportKind.RabbitMq && options.RabbitMqUri is null
                ? ValidateOptionsResult.Fail("Transport:Kind is RabbitMq but Transport:RabbitMqUri is not set.")
                : ValidateOptionsResult.Success;
    }
}
