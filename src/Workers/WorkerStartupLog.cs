using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers;

/// <summary>Says at start-up where this worker takes jobs from and how much it holds; never the credentials.</summary>
internal sealed class WorkerStartupLog(
    IOptions<TransportOptions> transport,
    IOptions<StoreOptions> store,
    IOptions<WorkerOptions> options,
    ILogger<WorkerStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var broker = transport.Value.RabbitMqUri is { } uri ? $"{uri.Host}:{uri.Port}{uri.AbsolutePath}" : "in-memory";
        logger.LogInformation(
            "Worker {WorkerId}: transport {Transport} ({Broker}), store {Store}, prefetch {Prefetch}, default batching {MaxBatch} / {MaxDelay} ms, {Instances} model instance(s)",
            options.Value.WorkerId, transport.Value.EffectiveKind, broker, store.Value.Kind, options.Value.PrefetchCount,
            options.Value.MaxBatchSize, options.Value.MaxQueueDelayMilliseconds, options.Value.ModelInstances);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
