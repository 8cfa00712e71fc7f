using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AIaaS.Queue.ServiceDefaults;

/// <summary>Where metrics and traces go (configuration section <c>Telemetry</c>; environment variables such as
/// <c>Telemetry__OtlpEndpoint</c>).</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>Serve metrics for Prometheus at <see cref="PrometheusPath"/> on web hosts (the ResultApi).</summary>
    public bool Prometheus { get; set; } = true;

    public string PrometheusPath { get; set; } = "/metrics";

    /// <summary>A port on which a host without HTTP (a worker) serves <c>/metrics</c> for Prometheus; unset: none.</summary>
    public int? PrometheusListenerPort { get; set; }

    /// <summary>The host name the listener of <see cref="PrometheusListenerPort"/> binds: every interface by default (a
    /// scraper on another machine), <c>127.0.0.1</c> where only this machine may read it (the benchmark).</summary>
    public string PrometheusListenerHost { get; set; } = "*";

    /// <summary>An OTLP collector (for example <c>http://otel-collector:4317</c>) that receives metrics and traces.
    /// The standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> variable works too.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Service name on every span and metric; defaults to the process's name.</summary>
    public string? ServiceName { get; set; }
}

public static class TelemetryRegistration
{
    /// <summary>
    /// The project's instruments, the "models" readiness check, and OpenTelemetry over MassTransit's and the project's
    /// sources and meters, exported as configured in <see cref="TelemetryOptions"/>. Traces are collected only when an
    /// OTLP endpoint is set: with nowhere to send them they would cost without serving anyone.
    /// </summary>
    public static IServiceCollection AddAiaasTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(AiaasMetrics)))
        {
            return services;
        }

        var options = new TelemetryOptions();
        configuration.GetSection(TelemetryOptions.SectionName).Bind(options);
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName);
        services.AddMetrics();
        services.TryAddSingleton<AiaasMetrics>();
        services.AddHealthChecks().AddCheck<ModelsHealthCheck>("models", tags: ["ready"]);

        // Empty means unset, so that compose files can pass ${OTLP_ENDPOINT:-} through.
        var configured = string.IsNullOrWhiteSpace(options.OtlpEndpoint) ? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] : options.OtlpEndpoint;
        var otlp = Uri.TryCreate(configured, UriKind.Absolute, out var endpoint) ? endpoint : null;
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName ?? AppDomain.CurrentDomain.FriendlyName))
            .WithMetrics(metrics =>
            {
                // And .NET's own runtime meter: GC, JIT, thread pool, exceptions and locks (dotnet.jit.compiled_methods
                // is how the benchmark knows a process has finished compiling its hot code).
                metrics.AddMeter(AiaasTelemetry.Name, AiaasTelemetry.MassTransitName, "System.Runtime");
                if (options.Prometheus)
                {
                    metrics.AddPrometheusExporter(o => o.ScrapeEndpointPath = options.PrometheusPath);
                }

                if (options.PrometheusListenerPort is { } port)
                {
                    metrics.AddPrometheusHttpListener(o =>
                    {
                        o.Host = options.PrometheusListenerHost;
                        o.Port = port;
                    });
                }

                if (otlp is not null)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = otlp);
                }
            });

        if (otlp is not null)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(AiaasTelemetry.Name, AiaasTelemetry.MassTransitName)
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = otlp;
                    o.Protocol = otlp.Port == 4318 ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                }));
        }

        return services;
    }

    /// <summary>Reports the model versions this process has loaded. Workers load models on their first job, so none
    /// loaded is healthy: readiness must not wait for traffic that readiness itself lets in.</summary>
    private sealed class ModelsHealthCheck(AiaasMetrics metrics) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var loaded = metrics.LoadedModels;
            var description = loaded.Count == 0
                ? "No model loaded in this process (workers load a model on its first job)."
                : $"{loaded.Count} loaded: " + string.Join(", ", loaded.Select(m => $"{m.Name} v{m.Version} ({m.Device})"));
            var data = loaded.ToDictionary(m => $"{m.Name}:{m.Version}", m => (object)m.Device);
            return Task.FromResult(HealthCheckResult.Healthy(description, data));
        }
    }
}
