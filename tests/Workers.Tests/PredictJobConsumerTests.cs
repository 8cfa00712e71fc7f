using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Store;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The predict consumer and the dynamic batcher behind it, under MassTransit's in-memory test harness, on the
/// embedded store in a temporary folder and a small real ONNX model.</summary>
public sealed class PredictJobConsumerTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = WorkerHarness.Wait;
    private WorkerHarness _worker = null!;
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;

    // Batch events wait here before they are published; open unless a test closes it.
    private volatile TaskCompletionSource _batchEvents = CompletedGate();

    public async ValueTask InitializeAsync()
    {
        _worker = await WorkerHarness.StartAsync(bus => bus.ConfigurePublish(publish => publish.UseInlineFilter(async (publishing, next) =>
        {
            if (publishing is PublishContext<PredictBatchCompleted>)
            {
                await _batchEvents.Task;
            }

            await next.Send(publishing);
        })));
        _provider = _worker.Services;
        _harness = _worker.Harness;
    }

    public ValueTask DisposeAsync() => _worker.DisposeAsync();

    [Fact]
    public async Task CompletionEventsCarryNoCallbackUrl()
    {
        // Every listener of the tenant (and the API's, of every tenant) hears the event: the callback URL stays in the store, where webhooks read it.
        var model = await RegisterAsync("no-urls", maxBatchSize: 4, maxDelayMilliseconds: 1);
        var good = Job(model, [1, 2, 3, 4]) with { CallbackUrl = "https://hooks.example/secret-path" };
        var bad = Job(model, [1, 2, 3]) with { CallbackUrl = "https://hooks.example/secret-path" };

        await _harness.Bus.Publish(good, TestContext.Current.CancellationToken);
        await _harness.Bus.Publish(bad, TestContext.Current.CancellationToken);

        Assert.True(await ConsumedAsync(good.JobId) && await ConsumedAsync(bad.JobId));
        Assert.True(await _harness.Published.Any<PredictBatchCompleted>(m => m.Context.Message.Jobs.Any(j => j.JobId == good.JobId), TestContext.Current.CancellationToken));
        Assert.True(await _harness.Published.Any<JobFailed>(m => m.Context.Message.JobId == bad.JobId, TestContext.Current.CancellationToken));
        Assert.All(_harness.Published.Select<PredictBatchCompleted>(TestContext.Current.CancellationToken), m => Assert.All(m.Context.Message.Jobs, j => Assert.Null(j.CallbackUrl)));
        Assert.All(_harness.Published.Select<JobFailed>(TestContext.Current.CancellationToken), m => Assert.Null(m.Context.Message.CallbackUrl));
        Assert.Equal("https://hooks.example/secret-path", (await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, good.JobId, TestContext.Current.CancellationToken))?.CallbackUrl);
    }

    [Fact]
    public async Task AMalformedJobFailsAloneWithAReasonWhileTheOthersSucceed()
    {
        var model = await RegisterAsync("classifier", maxBatchSize: 8, maxDelayMilliseconds: 50);
        var good = Job(model, [1, 2, 3, 4]);
        var bad = Job(model, [1, 2, 3]);

        await _harness.Bus.Publish(good, TestContext.Current.CancellationToken);
        await _harness.Bus.Publish(bad, TestContext.Current.CancellationToken);

        Assert.True(await ConsumedAsync(good.JobId) && await ConsumedAsync(bad.JobId));
        var jobs = _provider.GetRequiredService<IJobStore>();
        var failed = await jobs.GetAsync(Tenants.DefaultTenantId, bad.JobId, TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Failed, failed?.Status);
        Assert.False(string.IsNullOrWhiteSpace(failed?.Error));
        Assert.Equal(JobStatus.Succeeded, (await jobs.GetAsync(Tenants.DefaultTenantId, good.JobId, TestContext.Current.CancellationToken))?.Status);
        Assert.True(await _harness.Published.Any<JobFailed>(m => m.Context.Message.JobId == bad.JobId, TestContext.Current.CancellationToken));
        Assert.False(await _harness.Consumed.Any<SubmitPredictJob>(m => m.Exception is not null, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task AGoodJobsResultIsStoredBeforeItsMessageIsConsumed()
    {
        var model = await RegisterAsync("stored-first", maxBatchSize: 8, maxDelayMilliseconds: 20);
        var job = Job(model, [0.5f, -1, 2, 3]);

        await _harness.Bus.Publish(job, TestContext.Current.CancellationToken);

        Assert.True(await ConsumedAsync(job.JobId));
        // Read at once, with no wait: the consumer returned (and the message was acknowledged) only after the write.
        var record = await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, job.JobId, TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Succeeded, record?.Status);
        Assert.NotEmpty(record!.Outputs!);
    }

    [Fact]
    public async Task AFullBatchRunsAtOnceWithoutWaitingForTheMaxDelay()
    {
        // A max delay longer than the harness waits for a consumption: the jobs are consumed only if the full batch ran at once.
        var model = await RegisterAsync("full-batch", maxBatchSize: 4, maxDelayMilliseconds: 60_000);
        Assert.True(Wait < TimeSpan.FromSeconds(60));
        var batch = Enumerable.Range(0, 4).Select(i => Job(model, [i, 1, 2, 3])).ToArray();

        foreach (var job in batch)
        {
            await _harness.Bus.Publish(job, TestContext.Current.CancellationToken);
        }

        foreach (var job in batch)
        {
            Assert.True(await ConsumedAsync(job.JobId));
        }

        var records = await _provider.GetRequiredService<IJobStore>().GetManyAsync(batch.Select(j => new JobKey(Tenants.DefaultTenantId, j.JobId)).ToHashSet(),
            includeOutputs: false, TestContext.Current.CancellationToken);
        Assert.All(records, r => Assert.Equal(4, r.BatchSize));
        Assert.Single(records.Select(r => r.BatchId).Distinct());
    }

    [Fact]
    public async Task APartialBatchRunsOnceItsOldestJobHasWaitedTheMaxDelay()
    {
        var model = await RegisterAsync("partial-batch", maxBatchSize: 8, maxDelayMilliseconds: 400);
        // Load the model first, so that the next job's time is the batcher's wait alone.
        var warmUp = Job(model, [1, 1, 1, 1]);
        await _harness.Bus.Publish(warmUp, TestContext.Current.CancellationToken);
        Assert.True(await ConsumedAsync(warmUp.JobId));
        var job = Job(model, [1, 2, 3, 4]);
        var stopwatch = Stopwatch.StartNew();

        await _harness.Bus.Publish(job, TestContext.Current.CancellationToken);

        Assert.True(await ConsumedAsync(job.JobId));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(350), $"ran after {stopwatch.Elapsed.TotalMilliseconds} ms");
        var record = await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, job.JobId, TestContext.Current.CancellationToken);
        Assert.Equal(1, record?.BatchSize);
    }

    [Fact]
    public async Task ABatchWhoseEventCannotBePublishedHoldsUpNoLaterBatch()
    {
        // One model instance (the default) and batches of one job. After a broker restart a publish can stall for its whole
        // 10 s limit; the executor used to await each batch's event while it held the instance, so the worker ran one
        // batch per 10 s. Now the next batch runs while the event still waits.
        var model = await RegisterAsync("held-events", maxBatchSize: 1, maxDelayMilliseconds: 0);
        _batchEvents = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var jobs = Enumerable.Range(0, 3).Select(i => Job(model, [i, 2, 3, 4])).ToList();
            foreach (var job in jobs)
            {
                await _harness.Bus.Publish(job, TestContext.Current.CancellationToken);
            }

            // Well inside the 10 s a stalled event used to hold each batch: three batches, no event published yet.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(8));
            foreach (var job in jobs)
            {
                while (!await StoredAsync(job.JobId))
                {
                    await Task.Delay(20, limit.Token);
                }
            }
        }
        finally
        {
            _batchEvents.TrySetResult();
        }

        Assert.True(await _harness.Published.Any<PredictBatchCompleted>(TestContext.Current.CancellationToken));
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private async Task<bool> ConsumedAsync(Guid jobId) =>
        await _harness.Consumed.Any<SubmitPredictJob>(m => m.Context.Message.JobId == jobId, TestContext.Current.CancellationToken)
        && await StoredAsync(jobId);

    /// <summary>The harness records a message as consumed when its consumer returns; the record must be there by then.</summary>
    private async Task<bool> StoredAsync(Guid jobId) =>
        await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, jobId, TestContext.Current.CancellationToken) is { IsFinal: true };

    private async Task<string> RegisterAsync(string name, int maxBatchSize, double maxDelayMilliseconds)
    {
        await _worker.RegisterModelAsync(name, TestModels.Classifier().Onnx,
            new BatchingSettings { MaxBatchSize = maxBatchSize, MaxQueueDelayMilliseconds = maxDelayMilliseconds }, TestContext.Current.CancellationToken);
        return name;
    }

    private static SubmitPredictJob Job(string model, float[] features) => new()
    {
        JobId = Guid.CreateVersion7(),
        Model = model,
        Features = features,
        SubmittedAt = DateTimeOffset.UtcNow,
    };
}
