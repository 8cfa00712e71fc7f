using System.Collections.Concurrent;
using AIaaS.Queue.Workers.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>One <see cref="DynamicBatcher"/> per loaded model version. Registered before the bus, so it stops
/// after the bus has drained its consumers and running batches can still store their results.</summary>
internal sealed class BatcherRegistry(BatchExecutor executor, IOptions<WorkerOptions> options, ILoggerFactory loggers)
    : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<LoadedModel, Lazy<DynamicBatcher>> _batchers = new();

    public DynamicBatcher For(LoadedModel model) =>
        _batchers.GetOrAdd(model, m => new Lazy<DynamicBatcher>(() =>
            new DynamicBatcher(m, options.Value.ModelInstances,
                TimeSpan.FromMilliseconds(options.Value.PriorityAgingMilliseconds), executor, loggers.CreateLogger<DynamicBatcher>()))).Value;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        foreach (var batcher in _batchers.Values)
        {
            if (batcher.IsValueCreated)
            {
                await batcher.Value.DisposeAsync().ConfigureAwait(false);
            }
        }

        _batchers.Clear();
    }
}
