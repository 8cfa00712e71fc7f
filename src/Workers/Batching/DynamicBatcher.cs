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
/// busy accumulate, so batches grow with load. High-priority requests are taken first, and
/// requests batch together when their shapes match apart from padded axes, nearest in length first for padded models:
/// <see cref="WaitingLines"/> holds those rules.
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
    // Batches that gave their instance back after the model call and whose results are not stored yet: a bound on how
    // far the model runs ahead of the store (see WorkerOptions.MaxBatchesAheadOfWrites); null when none may.
    private readonly SemaphoreSlim? _aheadOfWrites;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private CancellationTokenSource _wait = new();
    private readonly long _agingTicks;
    private int _running;

    /// <summary>Starts the batching loop for <paramref name="model"/> with <paramref name="instances"/> model instances;
    /// <paramref name="batchesAheadOfWrites"/> batches may give their instance back once their model call is done, before
    /// their results are stored (0: every batch holds its instance through its write).</summary>
    public DynamicBatcher(LoadedModel model, int instances, int batchesAheadOfWrites, TimeSpan priorityAging, BatchExecutor executor, ILogger logger)
    {
        _model = model;
        _agingTicks = (long)(priorityAging.TotalSeconds * Stopwatch.Frequency);
        _executor = executor;
        _logger = logger;
        _instances = new SemaphoreSlim(instances, instances);
        _aheadOfWrites = batchesAheadOfWrites > 0 ? new SemaphoreSlim(batchesAheadOfWrites, batchesAheadOfWrites) : null;
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
        // Owned by this loop only: the channel is the hand-over from consumers.
        var waiting = new WaitingLines();
        try
        {
            while (true)
            {
                Drain(reader, waiting);
                if (waiting.Count == 0)
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
                    Drain(reader, waiting);
                    var head = waiting.Head(_agingTicks, Stopwatch.GetTimestamp());
                    var (rows, oldest) = waiting.Compatible(head);
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

                Drain(reader, waiting);
                var batch = waiting.Take(waiting.Head(_agingTicks, Stopwatch.GetTimestamp()), _model.MaxBatchSize, _model.GroupByLength);
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
        Drain(reader, waiting);
        foreach (var orphan in waiting.All)
        {
            orphan.Abandon(new OperationCanceledException("The worker stopped before the job ran."));
        }
    }

    private static void Drain(ChannelReader<PendingPrediction> reader, WaitingLines waiting)
    {
        while (reader.TryRead(out var next))
        {
            waiting.Add(next);
        }
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
        var released = 0;
        var ahead = false;
        void Release()
        {
            // Once only: the instance goes back after the model call if the batch may run ahead of its write, and in the
            // finally below in any case.
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                _instances.Release();
            }
        }

        void ModelCallDone()
        {
            // A batch that gets no slot keeps its instance until its results are stored, so that the model never runs
            // through every job the worker holds while writes lag: those jobs would all finish before a high-priority job
            // that waits in the broker for a prefetch slot, which only an acknowledgement, after a write, frees.
            if (_aheadOfWrites?.Wait(0) == true)
            {
                ahead = true;
                Release();
            }
        }

        try
        {
            await _executor.ExecuteAsync(_model, batch, ModelCallDone).ConfigureAwait(false);
        }
        finally
        {
            Release();
            if (ahead)
            {
                _aheadOfWrites!.Release();
            }

            // Counted until the results are stored, which may be after the instance went back: disposal waits for both.
            Interlocked.Decrement(ref _running);
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
        _aheadOfWrites?.Dispose();
    }
}
