using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.ResultApi.Apis.OpenAi;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using MassTransit;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi;

public static class ResultApiExtensions
{
    /// <summary>The ResultApi as a process of its own, the distributed deployment's API: on the local broker when no
    /// transport is configured, as a worker on its own is. The in-memory transport needs the workers in the same process,
    /// which is the Server's job (<c>src/Server</c>), so it is refused here.</summary>
    public static WebApplicationBuilder AddStandaloneResultApi(this WebApplicationBuilder builder)
    {
        builder.Configuration.UseLocalBrokerUnlessConfigured();
        if (builder.Configuration.GetTransportOptions().EffectiveKind == TransportKind.InMemory
            || builder.Configuration.GetValue<bool?>($"{ResultApiOptions.SectionName}:{nameof(ResultApiOptions.HostWorkers)}") == true)
        {
            throw new InvalidOperationException("The ResultApi on its own serves a broker's workers. For the embedded default "
                + "(in-memory transport, workers in the same process) run src/Server: dotnet run --project src/Server");
        }

        return builder.AddResultApi();
    }

    /// <summary>The ResultApi: store, bus, webhooks and the endpoints' services, plus <paramref name="workers"/> when a host
    /// (the Server) runs the workers in this process.</summary>
    public static WebApplicationBuilder AddResultApi(this WebApplicationBuilder builder, CoHostedWorkers? workers = null)
    {
        var services = builder.Services;
        services.AddOptions<ResultApiOptions>().BindConfiguration(ResultApiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddProblemDetails();
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.SectionName)
            .Validate(o => o.AdminKeyHash is null || o.AdminKeyHash.Trim().Length == 64 && o.AdminKeyHash.Trim().All(char.IsAsciiHexDigit),
                "Security:AdminKeyHash must be the 64 hex digits of a SHA-256.")
            .ValidateOnStart();
        services.AddApiKeyAuthorization();
        services.Configure<KestrelServerOptions>(kestrel =>
            kestrel.Limits.MaxRequestBodySize = builder.Configuration.GetValue(
                $"{ResultApiOptions.SectionName}:{nameof(ResultApiOptions.MaxRequestBodyBytes)}", ResultApiOptions.DefaultMaxRequestBodyBytes));
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = WireJson.NumberHandling);
        services.AddHealthChecks();
        services.AddAiaasStore();
        services.AddSingleton<JobSubmitter>();
        services.AddSingleton<JobBatchSubmitter>();
        services.AddSingleton<BulkJobSubmitter>();
        services.AddSingleton<EmbeddingsService>();
        services.AddSingleton<OpenAiBatchService>();
        // Ahead of the default writer: problems of OpenAI-surface endpoints are written in OpenAI's error shape.
        services.Insert(0, ServiceDescriptor.Singleton<IProblemDetailsWriter, OpenAiProblemDetailsWriter>());
        services.AddSingleton<JobCompletionWaiter>();
        services.AddHostedService(sp => sp.GetRequiredService<JobCompletionWaiter>());
        services.AddRetention();

        var transport = builder.Configuration.GetTransportOptions();
        var webhooks = builder.AddWebhooks();
        // Before the bus, so that the workers' batchers stop after it.
        workers?.AddServices(services);

        services.AddAiaasBus(builder.Configuration, x =>
        {
            workers?.AddConsumers(x);

            if (webhooks)
            {
                x.AddConsumer<WebhookEventConsumer, WebhookEventConsumerDefinition>();
            }
        });

        services.AddHostedService(sp => new StartupBanner(
            sp.GetRequiredService<ILogger<StartupBanner>>(), transport, sp.GetRequiredService<IOptions<StoreOptions>>().Value, workers is not null));
        return builder;
    }

    /// <summary>Webhook options, the callback URL policy and, when a signing secret is configured, the dispatcher;
    /// returns whether webhooks are on.</summary>
    /// <summary>Retention periods (section "Retention"), validated at start-up, the sweeper that applies them, 410 Gone for
    /// reads of what it removed, and per-tenant storage quotas (section "Quotas").</summary>
    private static void AddRetention(this IServiceCollection services)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<RetentionSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionSweeper>());
        services.AddExceptionHandler<ExpiredObjectExceptionHandler>();
        // Binding failures reach the exception handler (instead of a bare 400), which says where the body went wrong.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddOptions<QuotaOptions>().BindConfiguration(QuotaOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<QuotaOptions>, QuotaOptionsValidator>();
        services.AddSingleton<StorageQuota>();
    }

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
        app.UseAuthentication();
        app.UseAuthorization();
        app.Lifetime.ApplicationStarted.Register(() => SettleKeyPolicy(app));

        // Each group states who may call it (ApiPolicies); an endpoint that states nothing takes the tenant policy.
        var tenantApis = app.MapGroup("").RequireAuthorization(ApiPolicies.Tenant);
        tenantApis.MapJobsApi();
        tenantApis.MapSubmitJobsApi();
        tenantApis.MapBatchesApi();
        // OpenAI's embeddings, files and Batch API, so that OpenAI's client libraries work with their base URL set here.
        tenantApis.MapEmbeddingsApi();
        tenantApis.MapOpenAiFilesApi();
        tenantApis.MapOpenAiBatchesApi();
        tenantApis.MapModelsApi();
        // The Open Inference Protocol: tenant endpoints, its health endpoints open (they allow anonymous callers).
        tenantApis.MapInferenceApi();
        tenantApis.MapSchemasApi();
        app.MapGroup("").RequireAuthorization(ApiPolicies.Admin).MapAdminApi();
        Dashboard.OperabilityExtensions.MapOperability(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteHealthAsync,
        }).AllowAnonymous();
        return app;
    }

    /// <summary>Keys are required or not depending on where the server listens, known only once it does; says so in the log.</summary>
    private static void SettleKeyPolicy(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<ApiKeyPolicy>();
        var policy = app.Services.GetRequiredService<ApiKeyPolicy>();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        if (policy.Settle(addresses) is { } refusal)
        {
            logger.LogCritical("Not serving: {Reason}", refusal);
            app.Lifetime.StopApplication();
            return;
        }

        if (policy.KeysRequired)
        {
            logger.LogInformation("API keys required: every request to /v1 must carry 'Authorization: Bearer <key>' (listening on {Addresses})",
                string.Join(", ", addresses));
        }
        else
        {
            logger.LogWarning("Open mode: no API keys required, every request acts for tenant '{Tenant}'; listening on loopback only ({Addresses}). "
                + "Set Security:AdminKeyHash or Security:RequireApiKeys=true to require keys", Tenants.DefaultTenantId, string.Join(", ", addresses));
        }
    }

    /// <summary>Readiness with each check's status; its descriptions (which name loaded models, so tenants) only for an
    /// operator: on the open default, or with the admin key when keys are required. Probes need no key.</summary>
    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var detailed = !context.RequestServices.GetRequiredService<ApiKeyPolicy>().KeysRequired || context.User.IsInRole(ApiRoles.Admin);
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = detailed ? e.Value.Description : null }),
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
