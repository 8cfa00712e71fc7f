using System.Diagnostics.Metrics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>With pipelined result writes, a model runs at most <see cref="WorkerOptions.MaxBatchesAheadOfWrites"/> batches
/// ahead of the store: while writes are held up, the jobs the worker holds beyond that wait, so that a high-priority job
/// arriving later can still go before them.</summary>
public sealed class RunAheadTests
{
    private const int Jobs = 30;

    [Theory(Timeout = 60_000)]
    [InlineData(true, 2, 3)] // two batches let their instance go, a third keeps it while it waits for its write
    [InlineData(true, 1, 2)]
    [InlineData(false, 2, 1)] // not pipelined: one batch, holding the instance through its write
    public async Task WhileWritesAreHeldUpTheModelRunsOnlyTheBoundedNumberOfBatches(bool pipelined, int ahead, int expectedCalls)
    {
        var ct = TestContext.Current.CancellationToken;
        var writes = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var worker = await WorkerHarness.StartAsync(
            settings: new Dictionary<string, string?>
            {
                ["Workers:PipelinedResultWrites"] = pipelined.ToString(),
                ["Workers:MaxBatchesAheadOfWrites"] = ahead.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Workers:ModelInstances"] = "1",
            },
            services: services => services.AddSingleton<IJobStore>(sp =>
                new HeldWrites(new SqliteJobStore(sp.GetRequiredService<SqliteDatabase>()), writes.Task)));
        var model = $"ahead-{Guid.NewGuid():N}";
        // One job per model call, so that calls count batches.
        await worker.RegisterModelAsync(model, TestModels.Classifier().Onnx, new BatchingSettings { MaxBatchSize = 1, MaxQueueDelayMilliseconds = 0 }, ct);
        using var calls = new ModelCalls(model);

        var jobs = Enumerable.Range(0, Jobs).Select(i => new SubmitPredictJob
        {
            JobId = Guid.CreateVersion7(),
            Model = model,
            Features = [i, 1, 2, 3],
            SubmittedAt = DateTimeOffset.UtcNow,
        }).ToList();
        foreach (var job in jobs)
        {
            await worker.Harness.Bus.Publish(job, ct);
        }

        // Every job reaches the batcher (the consumer holds its message until the result is stored), then the model may
        // run only as far as the bound lets it: give it time to go further, as it would without one.
        await WaitUntilAsync(() => Task.FromResult(calls.Count >= expectedCalls), ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        Assert.Equal(expectedCalls, calls.Count);

        writes.SetResult();
        var store = worker.Services.GetRequiredService<IJobStore>();
        await WaitUntilAsync(async () => (await store.GetManyAsync([.. jobs.Select(j => new JobKey(Tenants.DefaultTenantId, j.JobId))], false, ct))
            .Count(j => j.Status == JobStatus.Succeeded) == Jobs, ct);
        Assert.Equal(Jobs, calls.Count);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(WorkerHarness.Wait);
        while (!await condition())
        {
            await Task.Delay(20, limit.Token);
        }
    }

    /// <summary>Model calls of one model, counted from the worker's <c>aiaas.batch.size</c> histogram.</summary>
    private sealed class ModelCalls : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _count;

        public ModelCalls(string model)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == AiaasTelemetry.Name && instrument.Name == "aiaas.batch.size")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "aiaas.model" && model.Equals(tag.Value))
                    {
                        Interlocked.Increment(ref _count);
                    }
                }
            });
            _listener.Start();
        }

        public int Count => Volatile.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The embedded job store whose result writes wait until <paramref name="open"/> completes.</summary>
    private sealed class HeldWrites(IJobStore inner, Task open) : IJobStore
    {
        public async Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
        {
            await open.WaitAsync(cancellationToken);
            return await inner.CompleteAsync(jobs, cancellationToken);
        }

        public Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) =>
            inner.InsertIfAbsentAsync(jobs, cancellationToken);

        public Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) =>
            inner.UpsertAsync(jobs, cancellationToken);

        public Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default) =>
            inner.GetAsync(tenantId, jobId, cancellationToken);

        public Task<IReadOnlyList<JobRecord>> GetManyAsync(IReadOnlyCollection<JobKey> keys, bool includeOutputs, CancellationToken cancellationToken = default) =>
            inner.GetManyAsync(keys, includeOutputs, cancellationToken);

        public Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default) =>
            inner.CountAsync(model, status, limit, cancellationToken);

        public Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default) => inner.ListAsync(query, cancellationToken);
    }
}
