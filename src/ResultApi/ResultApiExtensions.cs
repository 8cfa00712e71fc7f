using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers;
using MassTransit;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi;

public static class ResultApiExtensions
{
    /// <summary>The ResultApi: store, bus and, on the embedded default, the workers in the same process.</summary>
    public static WebApplicationBuilder AddResultApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ResultApiOptions>().BindConfiguration(ResultApiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = WireJson.NumberHandling);
        services.AddHealthChecks();
        services.AddAiaasStore();

        var transport = builder.Configuration.GetTransportOptions();
        var hostWorkers = builder.Configuration.GetValue<bool?>($"{ResultApiOptions.SectionName}:{nameof(ResultApiOptions.HostWorkers)}")
            ?? transport.EffectiveKind == TransportKind.InMemory;
        var webhooks = builder.AddWebhooks();
        if (hostWorkers)
        {
            services.AddWorkerServices();
        }

        services.AddAiaasBus(builder.Configuration, x =>
        {
            if (hostWorkers)
            {
                x.AddWorkerConsumers(builder.Configuration);
            }

            if (webhooks)
            {
                x.AddConsumer<WebhookEventConsumer, WebhookEventConsumerDefinition>();
            }
        });

        services.AddHostedService(sp => new StartupBanner(
            sp.GetRequiredService<ILogger<StartupBanner>>(), transport, sp.GetRequiredService<IOptions<StoreOptions>>().Value, hostWorkers));
        return builder;
    }

    /// <summary>Webhook options, the callback URL policy and, when a signing secret is configured, the dispatcher;
    /// returns whether webhooks are on.</summary>
    private static bool AddWebhooks(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CallbackUrlPolicy>();
        if (!builder.Configuration.GetSection($"{WebhookOptions.SectionName}:{nameof(WebhookOptions.Secrets)}").GetChildren().Any())
        {
            return false;
        }

        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return true;
    }

    public static WebApplication MapResultApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapJobsApi();
        app.MapSubmitJobsApi();
        app.MapBatchesApi();
        app.MapModelsApi();
        Dashboard.OperabilityExtensions.MapOperability(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteHealthAsync,
        });
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, cancellationToken: context.RequestAborted);
    }

    private sealed class StartupBanner(ILogger logger, TransportOptions transport, StoreOptions store, bool hostWorkers) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            logger.LogInformation("AIaaS.Queue ResultApi: transport {Transport}, store {Store}{Path}, workers {Workers}",
                transport.EffectiveKind, store.Kind,
                store.Kind == StoreKind.Embedded ? $" at {Path.GetFullPath(store.EmbeddedPath)}" : "",
                hostWorkers ? "in this process" : "in other processes");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
