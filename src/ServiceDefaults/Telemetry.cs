using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AIaaS.Queue.ServiceDefaults;

/// <summary>The names the project's traces and metrics are published under, next to MassTransit's own
/// (<see cref="MassTransitName"/>), so that one <c>AddSource</c> / <c>AddMeter</c> list covers the system.</summary>
public static class AiaasTelemetry
{
    public const string Name = "AIaaS.Queue";

    /// <summary>MassTransit's ActivitySource and Meter: publish, send, receive and consume spans and counters.</summary>
    public const string MassTransitName = "MassTransit";

    /// <summary>Spans for work the bus does not see: a model batch and each job's wait and run inside it.</summary>
    public static ActivitySource Source { get; } = new(Name, typeof(AiaasTelemetry).Assembly.GetName().Version?.ToString());
}

/// <summary>
/// The project's instruments (meter <see cref="AiaasTelemetry.Name"/>) and the models this process has loaded.
/// One per service provider: several hosts in one process (tests, the embedded default) each count their own.
/// </summary>
public sealed class AiaasMetrics
{
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    private readonly ConcurrentDictionary<(string Name, int Version), LoadedModelInfo> _loaded = new();
    private readonly Counter<long> _jobs;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _queueDelay;
    private readonly Histogram<double> _modelTime;
    private readonly Histogram<double> _paddingEfficiency;
    private readonly Counter<long> _webhookAttempts;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _responseCacheLookups;
    private readonly Histogram<double> _stageTime;
    private long _responseCacheHits;
    private long _responseCacheMisses;

    public AiaasMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(AiaasTelemetry.Name);
        _jobs = meter.CreateCounter<long>("aiaas.jobs.completed", "{job}", "Jobs that reached a final status, by status, kind and model.");
        _batchSize = meter.CreateHistogram("aiaas.batch.size", "{job}", "Jobs per model call.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        _queueDelay = meter.CreateHistogram("aiaas.job.queue_delay", "s", "From submission to the start of the job's model call: broker wait plus batch forming.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _modelTime = meter.CreateHistogram("aiaas.model.execution_time", "s", "Duration of one model call (one batch).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _paddingEfficiency = meter.CreateHistogram("aiaas.batch.padding_efficiency", "1",
            "Real elements over elements sent, across a model call's padded inputs; recorded for padded models only.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1] });
        _webhookAttempts = meter.CreateCounter<long>("aiaas.webhook.attempts", "{attempt}", "Webhook delivery attempts, by outcome.");
        _refused = meter.CreateCounter<long>("aiaas.messages.refused", "{message}",
            "Commands refused because their sender did not verify (dead-lettered, nothing stored), by command.");
        _responseCacheLookups = meter.CreateCounter<long>("aiaas.response_cache.lookups", "{lookup}",
            "Response cache lookups of jobs whose model version caches, by model and result (hit, miss).");
        meter.CreateObservableGauge("aiaas.response_cache.hit_ratio", () => ResponseCacheHitRatio, "1",
            "Response cache hits over lookups since the process started (0 before the first lookup).");
        _stageTime = meter.CreateHistogram("aiaas.path.stage_time", "s",
            "Time spent in one stage of a job's path (aiaas.stage: consume.prepare, batch.store_read, batch.model, batch.store_write, "
            + "registry.write, api.lookup), per occurrence: a batch's stages once per batch, consume.prepare once per job.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        meter.CreateObservableGauge("aiaas.models.loaded", () => _loaded.Count, "{model}", "Model versions loaded in this process.");
    }

    /// <summary>Model versions loaded in this process, by name then version.</summary>
    public IReadOnlyList<LoadedModelInfo> LoadedModels =>
        [.. _loaded.Values.OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version)];

    public void ModelLoaded(string name, int version, string device) =>
        _loaded[(name, version)] = new LoadedModelInfo(name, version, device, DateTimeOffset.UtcNow);

    public void ModelUnloaded(string name, int version) => _loaded.TryRemove((name, version), out _);

    public void JobCompleted(string kind, string model, string status) =>
        _jobs.Add(1, new KeyValuePair<string, object?>("aiaas.job.status", status),
            new KeyValuePair<string, object?>("aiaas.job.kind", kind), new KeyValuePair<string, object?>("aiaas.model", model));

    /// <summary>One model call: its jobs, its duration and, for padded models, its padding efficiency.</summary>
    public void BatchCompleted(string model, string device, int size, TimeSpan modelTime, double? paddingEfficiency = null)
    {
        var tags = new TagList { { "aiaas.model", model }, { "aiaas.device", device } };
        _batchSize.Record(size, tags);
        _modelTime.Record(modelTime.TotalSeconds, tags);
        if (paddingEfficiency is { } efficiency)
        {
            _paddingEfficiency.Record(efficiency, tags);
        }
    }

    public void JobStarted(string model, TimeSpan queueDelay) =>
        _queueDelay.Record(Math.Max(0, queueDelay.TotalSeconds), new KeyValuePair<string, object?>("aiaas.model", model));

    /// <summary>One stage of a job's path took <paramref name="elapsed"/>: the per-job profile of the benchmark's figure 2 is
    /// the sum of these over a run divided by its jobs, so that it shows where a job's time goes without a tracer attached.</summary>
    public void StageTimed(string stage, TimeSpan elapsed) =>
        _stageTime.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("aiaas.stage", stage));

    /// <summary>For the webhook dispatcher: <paramref name="outcome"/> is e.g. delivered, failed or gave_up.</summary>
    public void WebhookAttempted(string outcome) => _webhookAttempts.Add(1, new KeyValuePair<string, object?>("aiaas.webhook.outcome", outcome));

    /// <summary>A job of a model version that caches was looked up in the response cache.</summary>
    public void ResponseCacheLookup(string model, bool hit)
    {
        Interlocked.Increment(ref hit ? ref _responseCacheHits : ref _responseCacheMisses);
        _responseCacheLookups.Add(1, new KeyValuePair<string, object?>("aiaas.model", model),
            new KeyValuePair<string, object?>("aiaas.response_cache.result", hit ? "hit" : "miss"));
    }

    public long ResponseCacheHits => Interlocked.Read(ref _responseCacheHits);

    public long ResponseCacheMisses => Interlocked.Read(ref _responseCacheMisses);

    public double ResponseCacheHitRatio
    {
        get
        {
            var hits = ResponseCacheHits;
            var lookups = hits + ResponseCacheMisses;
            return lookups == 0 ? 0 : (double)hits / lookups;
        }
    }

    /// <summary>A command refused because its sender did not verify.</summary>
    public void MessageRefused(string command) => _refused.Add(1, new KeyValuePair<string, object?>("aiaas.command", command));
}

public sealed record LoadedModelInfo(string Name, int Version, string Device, DateTimeOffset LoadedAt);
