using System.Net.Http.Headers;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Transport;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>Registers the AIaaS.Queue client SDK.</summary>
public static class AiaasClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="IAiaasClient"/>. Submits go where <see cref="AiaasClientOptions.Transport"/> says; by default
    /// (<see cref="AiaasTransport.Auto"/>): with <see cref="AiaasClientOptions.RabbitMqUri"/> set, the SDK opens its own
    /// bus to that broker (publisher confirms on, so a failed publish throws); without it, the SDK publishes through
    /// the MassTransit bus the host already has (the embedded default); and in a host without MassTransit it submits over
    /// HTTP to <see cref="AiaasClientOptions.ApiUrl"/>, needing no broker access at all.
    /// </summary>
    public static IServiceCollection AddAiaasClient(this IServiceCollection services, Action<AiaasClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new AiaasClientOptions();
        configure(options);
        if (options.ApiKey is not null && ApiKeyFormat.Parse(options.ApiKey) is null)
        {
            // The message says what a key looks like, never what was given: it may be a mistyped secret.
            throw new ArgumentException("AiaasClientOptions.ApiKey is not an AIaaS.Queue API key (aiaas_<tenant>_<key id>_<secret>).", nameof(configure));
        }

        if (options.Transport == AiaasTransport.Http && options.RabbitMqUri is not null)
        {
            throw new ArgumentException("AiaasClientOptions.Transport is Http, which opens no broker connection: leave RabbitMqUri unset.", nameof(configure));
        }

        services.AddOptions<AiaasClientOptions>().Configure(configure);
        services.TryAddSingleton(TimeProvider.System);

        if (options.OwnsBrokerConnection && options.RabbitMqUri is { } broker)
        {
            services.AddMassTransit<IAiaasBus>(x =>
            {
                x.ConfigureUsageTelemetryOptions(o => o.Enabled = false);
                if (options.CompletionEvents)
                {
                    // A temporary queue per client process: deleted when the client goes, and never shared. Its name is unique
                    // (two clients on one broker would otherwise fight over one exclusive queue) and starts with the prefix
                    // and tenant that the tenant's client broker user may read (scripts/rabbitmq-users.sh).
                    x.AddConsumer<CompletionEventsConsumer, CompletionEventsConsumerDefinition>().Endpoint(e =>
                    {
                        e.Name = $"{CompletionQueuePrefix}{ClientEventRouting.RoutingKey(options.TenantId)}-{NewId.NextGuid():N}";
                        e.Temporary = true;
                    });
                }

                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(broker, h =>
                    {
                        h.ConnectionName("aiaas-client");
                        // The publishes and completion-event acks of a connection the broker dropped must not wait forever
                        // for a dead socket: they would hold up MassTransit's reconnect, and every submit would time out after.
                        h.UseBrokerSocket();
                    });
                    cfg.ConfigureJsonSerializerOptions(json =>
                    {
                        json.NumberHandling |= WireJson.NumberHandling;
                        return json;
                    });
                    cfg.ConfigureEndpoints(context);
                });
            });
            services.AddSingleton<IJobPublisher>(sp => new BusJobPublisher(sp.GetRequiredService<IAiaasBus>(), options.PublishTimeout,
                options.MaxPublishConcurrency,
                sp.GetService<ILoggerFactory>()?.CreateLogger<BusJobPublisher>() ?? NullLogger<BusJobPublisher>.Instance, options.MaxMessageBytes));
        }
        else if (options.Transport == AiaasTransport.Http)
        {
            services.AddSingleton<IJobPublisher>(sp => HttpPublisher(sp, options));
        }
        else
        {
            services.AddSingleton<IJobPublisher>(sp => new HostBusJobPublisher(sp, options.PublishTimeout, options.MaxPublishConcurrency,
                options.Transport == AiaasTransport.Auto ? () => HttpPublisher(sp, options) : null));
        }

        services.AddHttpClient(nameof(HttpJobPublisher), (sp, http) =>
        {
            ConfigureHttp(sp, http);
            http.Timeout = Timeout.InfiniteTimeSpan; // each submit is bounded by PublishTimeout instead
        });

        // One watcher per client process, so that all waits share its status requests.
        services.AddHttpClient(nameof(CompletionWatcher), ConfigureHttp);
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<CompletionWatcher>(sp,
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(CompletionWatcher))));
        services.AddHttpClient(nameof(ModelAdmission), (sp, http) =>
        {
            ConfigureHttp(sp, http);
            http.Timeout = TimeSpan.FromSeconds(5); // advisory: a slow API must not hold submits up for long
        });
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<ModelAdmission>(sp,
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(ModelAdmission))));
        services.AddHttpClient<IAiaasClient, AiaasClient>(ConfigureHttp);
        return services;
    }

    private static HttpJobPublisher HttpPublisher(IServiceProvider services, AiaasClientOptions options) =>
        new(services.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(HttpJobPublisher)), options.PublishTimeout);

    /// <summary>The start of every SDK client's completion queue name (then its tenant, '-', and 32 hex digits); the broker's
    /// client role may use only these queues.</summary>
    public const string CompletionQueuePrefix = "aiaas-client-";

    private static void ConfigureHttp(IServiceProvider services, HttpClient http)
    {
        var options = services.GetRequiredService<IOptions<AiaasClientOptions>>().Value;
        var baseUri = options.ApiUrl.AbsoluteUri.EndsWith('/') ? options.ApiUrl : new Uri(options.ApiUrl.AbsoluteUri + "/");
        http.BaseAddress = baseUri;
        http.Timeout = TimeSpan.FromMinutes(10);
        if (options.ApiKey is { } key)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }
}
