using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
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
        if (hostWorkers)
        {
            services.AddWorkerServices();
            services.AddAiaasBus(builder.Configuration, x => x.AddWorkerConsumers(builder.Configuration));
        }
        else
        {
            services.AddAiaasBus(builder.Configuration);
        }

        services.AddHostedService(sp => new StartupBanner(
            sp.GetRequiredService<ILogger<StartupBanner>>(), transport, sp.GetRequiredService<IOptions<StoreOptions>>().Value, hostWorkers));
        return builder;
    }

    public static WebApplication MapResultApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapJobsApi();
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
