using AIaaS.Queue.Contracts;
using MassTransit;

namespace AIaaS.Queue.ResultApi.Dashboard;

/// <summary>
/// The batches completed in the last minutes, fed by the <see cref="PredictBatchCompleted"/> events every worker
/// publishes. Each ResultApi instance listens on a temporary queue of its own, so every instance sees every batch,
/// and nothing is stored: the window is for watching the system, the store remains the record.
/// </summary>
public sealed class RecentBatches(TimeProvider time, TimeSpan window)
{
    private const int MaxBatches = 200_000;
    private readonly Queue<BatchEntry> _batches = new();
    private readonly Queue<(JobFailed Job, DateTimeOffset ReceivedAt)> _rejected = new();
    private readonly Dictionary<string, BatchEntry> _byId = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public TimeSpan Window => window;

    public void Add(PredictBatchCompleted batch)
    {
        var entry = new BatchEntry(batch, time.GetUtcNow());
        lock (_lock)
        {
            if (_byId.TryAdd(batch.BatchId, entry))
            {
                _batches.Enqueue(entry);
            }

            PruneLocked();
        }
    }

    /// <summary>A job rejected before it reached a model (bad input, unknown model): it counts as a failed job.</summary>
    public void Add(JobFailed job)
    {
        lock (_lock)
        {
            _rejected.Enqueue((job, time.GetUtcNow()));
            PruneLocked();
        }
    }

    public PredictBatchCompleted? Find(string batchId)
    {
        lock (_lock)
        {
            PruneLocked();
            return _byId.GetValueOrDefault(batchId)?.Batch;
        }
    }

    /// <summary>Per-minute buckets (oldest first) over the last <paramref name="minutes"/>, and totals per worker and model.</summary>
    public ThroughputView Summarize(int minutes)
    {
        var now = time.GetUtcNow();
        var start = Floor(now).AddMinutes(-(minutes - 1));
        var buckets = Enumerable.Range(0, minutes).Select(i => new BucketBuilder(start.AddMinutes(i))).ToArray();
        var workers = new Dictionary<string, WorkerBuilder>(StringComparer.Ordinal);
        var models = new Dictionary<string, WorkerBuilder>(StringComparer.Ordinal);
        lock (_lock)
        {
            PruneLocked();
            foreach (var entry in _batches)
            {
                // Bucket by when this API heard of the batch: worker clocks may disagree with ours.
                var index = (int)Math.Floor((entry.ReceivedAt - start).TotalMinutes);
                if (index < 0 || index >= minutes)
                {
                    continue;
                }

                var batch = entry.Batch;
                if (batch.FromResponseCache)
                {
                    // Jobs answered from a worker's response cache: jobs, but no model call to count as a batch.
                    buckets[index].AddCached(batch.Jobs.Count);
                    Get(workers, batch.WorkerId).AddCached(batch.Jobs.Count, entry.ReceivedAt);
                    Get(models, batch.Model).AddCached(batch.Jobs.Count, entry.ReceivedAt);
                    continue;
                }

                var failed = batch.Jobs.Count(j => j.Status == JobStatus.Failed);
                buckets[index].Add(batch.BatchSize, failed, batch.ModelMilliseconds);
                Get(workers, batch.WorkerId).Add(batch, failed, entry.ReceivedAt);
                Get(models, batch.Model).Add(batch, failed, entry.ReceivedAt);
            }

            foreach (var (job, receivedAt) in _rejected)
            {
                var index = (int)Math.Floor((receivedAt - start).TotalMinutes);
                if (index >= 0 && index < minutes)
                {
                    buckets[index].AddRejected();
                    Get(models, job.Model).AddRejected(receivedAt);
                }
            }
        }

        return new ThroughputView
        {
            Minutes = minutes,
            Since = start,
            Buckets = [.. buckets.Select(b => b.Build())],
            Workers = [.. workers.Values.Select(w => w.Build()).OrderBy(w => w.Name, StringComparer.Ordinal)],
            Models = [.. models.Values.Select(w => w.Build()).OrderBy(w => w.Name, StringComparer.Ordinal)],
        };
    }

    /// <summary>Listens for batch events on a temporary endpoint (an auto-deleted queue on RabbitMQ) until stopped.</summary>
    public async Task ListenAsync(IReceiveEndpointConnector connector, CancellationToken stopping)
    {
        var handle = connector.ConnectReceiveEndpoint(new TemporaryEndpointDefinition("dashboard"), KebabCaseEndpointNameFormatter.Instance,
            (_, endpoint) =>
            {
                endpoint.Handler<PredictBatchCompleted>(context =>
                {
                    Add(context.Message);
                    return Task.CompletedTask;
                });
                endpoint.Handler<JobFailed>(context =>
                {
                    Add(context.Message);
                    return Task.CompletedTask;
                });
            });
        await handle.Ready.WaitAsync(stopping).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await handle.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    private void PruneLocked()
    {
        var oldest = time.GetUtcNow() - window;
        while (_batches.TryPeek(out var first) && (first.ReceivedAt < oldest || _batches.Count > MaxBatches))
        {
            _byId.Remove(_batches.Dequeue().Batch.BatchId);
        }

        while (_rejected.TryPeek(out var first) && (first.ReceivedAt < oldest || _rejected.Count > MaxBatches))
        {
            _rejected.Dequeue();
        }
    }

    private static WorkerBuilder Get(Dictionary<string, WorkerBuilder> all, string name)
    {
        if (!all.TryGetValue(name, out var builder))
        {
            all[name] = builder = new WorkerBuilder(name);
        }

        return builder;
    }

    private static DateTimeOffset Floor(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);

    private sealed record BatchEntry(PredictBatchCompleted Batch, DateTimeOffset ReceivedAt);

    private sealed class BucketBuilder(DateTimeOffset start)
    {
        private int _jobs, _failed, _batches, _batched, _max, _cached;
        private double _modelMs;

        public void Add(int size, int failed, double modelMs)
        {
            _jobs += size;
            _batched += size;
            _failed += failed;
            _batches++;
            _max = Math.Max(_max, size);
            _modelMs += modelMs;
        }

        public void AddRejected()
        {
            _jobs++;
            _failed++;
        }

        public void AddCached(int jobs)
        {
            _jobs += jobs;
            _cached += jobs;
        }

        public ThroughputBucket Build() => new()
        {
            Start = start,
            Jobs = _jobs,
            Failed = _failed,
            Batches = _batches,
            BatchedJobs = _batched,
            MeanBatchSize = _batches == 0 ? 0 : Math.Round((double)_batched / _batches, 2),
            MaxBatchSize = _max,
            MeanModelMilliseconds = _batches == 0 ? 0 : Math.Round(_modelMs / _batches, 3),
            CachedJobs = _cached,
        };
    }

    private sealed class WorkerBuilder(string name)
    {
        private int _jobs, _failed, _batches, _batched, _cached;
        private long _rows;
        private double _paddingWeighted;
        private DateTimeOffset _last;

        public void Add(PredictBatchCompleted batch, int failed, DateTimeOffset at)
        {
            _jobs += batch.BatchSize;
            _batched += batch.BatchSize;
            _failed += failed;
            _batches++;
            // Weighted by rows, so that a big padded batch counts for more than a lone request (which is never padded).
            var rows = Math.Max(1, batch.Rows);
            _rows += rows;
            _paddingWeighted += batch.PaddingEfficiency * rows;
            _last = at > _last ? at : _last;
        }

        public void AddRejected(DateTimeOffset at)
        {
            _jobs++;
            _failed++;
            _last = at > _last ? at : _last;
        }

        public void AddCached(int jobs, DateTimeOffset at)
        {
            _jobs += jobs;
            _cached += jobs;
            _last = at > _last ? at : _last;
        }

        public ThroughputTotal Build() => new()
        {
            Name = name,
            Jobs = _jobs,
            Failed = _failed,
            Batches = _batches,
            MeanBatchSize = _batches == 0 ? 0 : Math.Round((double)_batched / _batches, 2),
            PaddingEfficiency = _rows == 0 ? null : Math.Round(_paddingWeighted / _rows, 4),
            LastSeen = _last,
            CachedJobs = _cached,
        };
    }
}

public sealed record ThroughputView
{
    public required int Minutes { get; init; }
    public required DateTimeOffset Since { get; init; }
    public required IReadOnlyList<ThroughputBucket> Buckets { get; init; }
    public required IReadOnlyList<ThroughputTotal> Workers { get; init; }
    public required IReadOnlyList<ThroughputTotal> Models { get; init; }
}

public sealed record ThroughputBucket
{
    public required DateTimeOffset Start { get; init; }
    public required int Jobs { get; init; }
    public required int Failed { get; init; }
    public required int Batches { get; init; }

    /// <summary>Jobs that ran in a model call; the rest of <see cref="Jobs"/> were rejected before reaching one.</summary>
    public required int BatchedJobs { get; init; }
    public required double MeanBatchSize { get; init; }
    public required int MaxBatchSize { get; init; }
    public required double MeanModelMilliseconds { get; init; }

    /// <summary>Jobs answered from a worker's response cache, without a model call (counted in <see cref="Jobs"/>).</summary>
    public int CachedJobs { get; init; }
}

/// <summary>Totals over the window for one worker or one model. Jobs rejected before a model call have no worker
/// in their event, so they count for their model only.</summary>
public sealed record ThroughputTotal
{
    public required string Name { get; init; }
    public required int Jobs { get; init; }
    public required int Failed { get; init; }
    public required int Batches { get; init; }
    public required double MeanBatchSize { get; init; }

    /// <summary>Real elements over elements sent across padded inputs, per row over the window's batches (1 when
    /// nothing was padded); null without batches.</summary>
    public double? PaddingEfficiency { get; init; }
    public required DateTimeOffset LastSeen { get; init; }

    /// <summary>Jobs answered from a worker's response cache, without a model call (counted in <see cref="Jobs"/>).</summary>
    public int CachedJobs { get; init; }
}
