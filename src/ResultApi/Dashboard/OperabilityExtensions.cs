using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Dashboard;

public static class OperabilityExtensions
{
    private static readonly Dictionary<string, string> Assets = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["dashboard.js"] = "text/javascript; charset=utf-8",
        ["dashboard.css"] = "text/css; charset=utf-8",
    };

    /// <summary>
    /// The dashboard at <c>/dashboard</c> (static HTML and JavaScript over the JSON endpoints, embedded in this
    /// assembly so that it runs with no build step and no web root), the <c>/v1/ops</c> endpoints behind it, the
    /// Prometheus scraping endpoint when enabled, and the listener that feeds the throughput window.
    /// </summary>
    public static WebApplication MapOperability(this WebApplication app)
    {
        var options = new OperabilityOptions();
        app.Configuration.GetSection(OperabilityOptions.SectionName).Bind(options);
        var queues = new QueueInspector(app.Configuration.GetTransportOptions(), options);
        var batches = new RecentBatches(TimeProvider.System, TimeSpan.FromMinutes(Math.Clamp(options.WindowMinutes, 1, 24 * 60)));
        app.Lifetime.ApplicationStopped.Register(queues.Dispose);
        app.MapGroup("").RequireAuthorization(ApiPolicies.Ops).MapOpsApi(queues, batches);

        // The page itself holds no data: it is open, and asks for a key when the JSON endpoints behind it answer 401.
        app.MapGet("/dashboard", () => Asset("index.html")).ExcludeFromDescription().AllowAnonymous();
        app.MapGet("/dashboard/{file}", (string file) => Assets.ContainsKey(file) ? Asset(file) : Results.NotFound())
            .ExcludeFromDescription().AllowAnonymous();

        var telemetry = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        if (telemetry.Prometheus)
        {
            app.MapPrometheusScrapingEndpoint(telemetry.PrometheusPath).RequireAuthorization(ApiPolicies.Ops);
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<RecentBatches>();
        app.Lifetime.ApplicationStarted.Register(() => _ = ListenAsync(app, batches, logger));
        return app;
    }

    private static async Task ListenAsync(WebApplication app, RecentBatches batches, ILogger logger)
    {
        try
        {
            await batches.ListenAsync(app.Services.GetRequiredService<IReceiveEndpointConnector>(), app.Lifetime.ApplicationStopping);
        }
        catch (Exception ex) when (!app.Lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // The dashboard's throughput panel stays empty; the API itself is unaffected.
            logger.LogWarning(ex, "Could not listen for batch events; the dashboard will show no throughput");
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static IResult Asset(string file)
    {
        var stream = typeof(OperabilityExtensions).Assembly.GetManifestResourceStream("dashboard/" + file);
        return stream is null ? Results.NotFound() : Results.Stream(stream, Assets[file]);
    }
}
