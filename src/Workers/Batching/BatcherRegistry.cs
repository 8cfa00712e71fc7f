using System.Collections.Concurrent;
using AIaaS.Queue.Workers.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>One <see cref="DynamicBatcher"/> per loaded model version. Registered before the bus, so it stops
/// after the bus has drained its consumers and running batches can still store their results.</summary>
internal sealed class BatcherRegistry : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<LoadedModel, Lazy<DynamicBatcher>> _batchers = new();
    private readonly BatchExecutor _executor;
    private readonly IOptions<WorkerOptions> _options;
    private readonly ILoggerFactory _loggers;

    public BatcherRegistry(BatchExecutor executor, IOptions<WorkerOptions> options, ILoggerFactory loggers, ModelCache models)
    {
        _executor = executor;
        _options = options;
        _loggers = loggers;
        // A model unloaded to keep within the memory budget has no lease out, so its batcher holds no job: it goes with it.
        models.Unloading += RemoveAsync;
    }

    private async ValueTask RemoveAsync(LoadedModel model)
    {
        if (_batchers.TryRemove(model, out var batcher) && batcher.IsValueCreated)
        {
            await batcher.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    public DynamicBatcher For(LoadedModel model) =>
        _batchers.GetOrAdd(model, m => new Lazy<DynamicBatcher>(() =>
            new DynamicBatcher(m, _options.Value.ModelInstances,
                _options.Value.PipelinedResultWrites ? _options.Value.MaxBatchesAheadOfWrites : 0,
                TimeSpan.FromMilliseconds(_options.Value.PriorityAgingMilliseconds), _executor, _loggers.CreateLogger<DynamicBatcher>()))).Value;

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
