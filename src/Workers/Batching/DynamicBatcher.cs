using System.Diagnostics;
using System.Threading.Channels;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// Triton-style dynamic batcher for one model version. When a model instance is free it takes up to
/// <see cref="LoadedModel.MaxBatchSize"/> rows of waiting requests; a full batch runs at once, a partial one runs when its
/// oldest request has waited <see cref="LoadedModel.MaxQueueDelay"/>. Requests that arrive while every instance is
/// busy accumulate, so batches grow with load. High-priority requests are taken first (see <see cref="Head"/>).
/// Requests batch together when their shapes match apart from padded axes; for padded models, a batch is formed from
/// requests of similar length (see <see cref="Take"/>).
/// </summary>
/// <remarks>
/// MassTransit's <c>Batch&lt;T&gt;</c> fixes one message limit per consumer and groups only by message, so it can
/// neither size batches per model nor share a batch between consumers. This batcher sits behind an ordinary
/// consumer whose bounded concurrency is the backpressure: a message is acknowledged only after its result is stored.
/// </remarks>
internal sealed class DynamicBatcher : IAsyncDisposable
{
    private readonly Channel<PendingPrediction> _queue = Channel.CreateUnbounded<PendingPrediction>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly LoadedModel _model;
    private readonly BatchExecutor _executor;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _instances;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private CancellationTokenSource _wait = new();
    private readonly long _agingTicks;
    private int _running;

    public DynamicBatcher(LoadedModel model, int instances, TimeSpan priorityAging, BatchExecutor executor, ILogger logger)
    {
        _model = model;
        _agingTicks = (long)(priorityAging.TotalSeconds * Stopwatch.Frequency);
        _executor = executor;
        _logger = logger;
        _instances = new SemaphoreSlim(instances, instances);
        _loop = Task.Run(() => RunAsync(_stopping.Token));
        executor.Metrics.ModelLoaded(model.Name, model.Version, model.Device);
    }

    public Task EnqueueAsync(PendingPrediction prediction)
    {
        if (!_queue.Writer.TryWrite(prediction))
        {
            prediction.Abandon(new OperationCanceledException("The worker is stopping."));
        }

        return prediction.Completion;
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var reader = _queue.Reader;
        var maxDelayTicks = (long)(_model.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        // Owned by this loop only: the channel is the hand-over from consumers, these are the per-priority waiting lines,
        // each in arrival order.
        var high = new List<PendingPrediction>();
        var normal = new List<PendingPrediction>();
        try
        {
            while (true)
            {
                Drain(reader, high, normal);
                if (high.Count + normal.Count == 0)
                {
                    if (!await reader.WaitToReadAsync(stopping).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                await _instances.WaitAsync(stopping).ConfigureAwait(false);
                while (true)
                {
                    // Requests that arrived while waiting for an instance count too: a late high-priority one goes first.
                    Drain(reader, high, normal);
                    var head = Head(high, normal);
                    var (rows, oldest) = Compatible(head, high, normal);
                    if (rows >= _model.MaxBatchSize)
                    {
                        break;
                    }

                    var remaining = oldest + maxDelayTicks - Stopwatch.GetTimestamp();
                    if (remaining <= 0 || !await WaitForMoreAsync(reader, TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency), stopping).ConfigureAwait(false))
                    {
                        break;
                    }
                }

                Drain(reader, high, normal);
                var batch = Take(Head(high, normal), high, normal);
                Interlocked.Increment(ref _running);
                _ = RunBatchAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogCritical(ex, "Batcher for {Model} v{Version} stopped", _model.Name, _model.Version);
        }

        // Whatever is still queued was never run: fail its consumers so the broker redelivers the messages.
        Drain(reader, high, normal);
        foreach (var orphan in high.Concat(normal))
        {
            orphan.Abandon(new OperationCanceledException("The worker stopped before the job ran."));
        }
    }

    private static void Drain(ChannelReader<PendingPrediction> reader, List<PendingPrediction> high, List<PendingPrediction> normal)
    {
        while (reader.TryRead(out var next))
        {
            (next.Job.Priority == JobPriority.High ? high : normal).Add(next);
        }
    }

    /// <summary>
    /// The priority rule: the next batch is formed around the oldest high-priority request, or the oldest normal one when
    /// none is high, and high-priority requests fill it first. Against starvation, a normal request that has waited longer
    /// than <c>PriorityAgingMilliseconds</c> leads the batch instead, one such per batch: under a flood of high-priority
    /// work normal requests still move at one per model call at least, and high-priority ones keep every other slot.
    /// </summary>
    private PendingPrediction Head(List<PendingPrediction> high, List<PendingPrediction> normal)
    {
        if (high.Count > 0 && normal.Count > 0 && Stopwatch.GetTimestamp() - normal[0].EnqueuedAt > _agingTicks)
        {
            return normal[0];
        }

        return high.Count > 0 ? high[0] : normal[0];
    }

    /// <summary>Rows waiting that may share a model call with <paramref name="head"/> (equal shapes apart from padded axes),
    /// and the arrival of the oldest of them, from which the max queue delay counts.</summary>
    private static (long Rows, long Oldest) Compatible(PendingPrediction head, List<PendingPrediction> high, List<PendingPrediction> normal)
    {
        long rows = 0, oldest = long.MaxValue;
        foreach (var line in (ReadOnlySpan<List<PendingPrediction>>)[high, normal])
        {
            foreach (var waiting in line)
            {
                if (waiting.Request.GroupKey == head.Request.GroupKey)
                {
                    rows += waiting.Request.Rows;
                    oldest = Math.Min(oldest, waiting.EnqueuedAt);
                }
            }
        }

        return (rows, oldest);
    }

    /// <summary>
    /// Takes the batch led by <paramref name="head"/>: high-priority requests first, then normal ones, each line in
    /// arrival order, up to the model's rows per call. With length grouping (padded models), each line is taken nearest
    /// length to the head's first, so that a batch pads little; the head is always the oldest by the priority rule, so a
    /// request of an unusual length still leads a batch of its own in turn.
    /// </summary>
    private List<PendingPrediction> Take(PendingPrediction head, List<PendingPrediction> high, List<PendingPrediction> normal)
    {
        var batch = new List<PendingPrediction>(Math.Min(_model.MaxBatchSize, 1024)) { head };
        (head.Job.Priority == JobPriority.High ? high : normal).Remove(head);
        var rows = (long)head.Request.Rows;
        foreach (var line in (ReadOnlySpan<List<PendingPrediction>>)[high, normal])
        {
            if (rows >= _model.MaxBatchSize)
            {
                break;
            }

            var candidates = line.Where(p => p.Request.GroupKey == head.Request.GroupKey);
            if (_model.GroupByLength)
            {
                candidates = candidates.OrderBy(p => Math.Abs(p.Request.Length - head.Request.Length));
            }

            var taken = new HashSet<PendingPrediction>();
            foreach (var candidate in candidates)
            {
                if (rows + candidate.Request.Rows <= _model.MaxBatchSize)
                {
                    batch.Add(candidate);
                    taken.Add(candidate);
                    rows += candidate.Request.Rows;
                }
            }

            line.RemoveAll(taken.Contains);
        }

        return batch;
    }

    private async ValueTask<bool> WaitForMoreAsync(ChannelReader<PendingPrediction> reader, TimeSpan timeout, CancellationToken stopping)
    {
        // One timer source is reused while it has not fired; a fired one cannot be reset and is replaced.
        if (!_wait.TryReset())
        {
            _wait.Dispose();
            _wait = new CancellationTokenSource();
        }

        _wait.CancelAfter(timeout);
        using var linked = stopping.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _wait);
        try
        {
            return await reader.WaitToReadAsync(_wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task RunBatchAsync(List<PendingPrediction> batch)
    {
        try
        {
            await _executor.ExecuteAsync(_model, batch).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _instances.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _executor.Metrics.ModelUnloaded(_model.Name, _model.Version);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        // Let batches already running store their results.
        for (var i = 0; i < 500 && Volatile.Read(ref _running) > 0; i++)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }

        _stopping.Dispose();
        _wait.Dispose();
        _instances.Dispose();
    }
}
