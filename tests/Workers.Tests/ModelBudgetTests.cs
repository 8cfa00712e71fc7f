using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The worker's memory budget for loaded models (finding 2 of the adversarial review: every distinct model a
/// worker ever loaded stayed loaded), on real ONNX models: the budget holds two and a half of the small ones.</summary>
public sealed class ModelBudgetTests : IAsyncLifetime
{
    private const int TestTimeout = 120_000;

    // Small: 4 → 64 → 64 → 3, about 18 kB of weights. Large: 4 → 1024 → 1024 → 3, about 4 MB, more than the whole budget.
    private static readonly byte[] Small = TestModels.Classifier(seed: 3, hidden: [64, 64]).Onnx;
    private static readonly byte[] Large = TestModels.Classifier(seed: 5, hidden: [1024, 1024]).Onnx;
    private static readonly long SmallCost = ModelCache.EstimateBytes(Small.Length, foldedBytes: 0);
    private static readonly long Budget = SmallCost * 5 / 2;

    private WorkerHarness _worker = null!;
    private ITestHarness _harness = null!;
    private ModelCache _cache = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        Assert.True(ModelCache.EstimateBytes(Large.Length, foldedBytes: 0) > Budget);
        _worker = await WorkerHarness.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workers:LoadedModelBudgetBytes"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        _harness = _worker.Harness;
        _cache = _worker.Services.GetRequiredService<ModelCache>();
    }

    public ValueTask DisposeAsync() => _worker.DisposeAsync();

    [Fact(Timeout = TestTimeout)]
    public async Task AModelLargerThanTheWholeBudgetFailsItsJobsWithTheReasonWhileOthersServe()
    {
        await RegisterAsync("too-large", Large);
        await RegisterAsync("fits", Small);
        var large = Job("too-large");
        var small = Job("fits");

        await _harness.Bus.Publish(large, Ct);
        await _harness.Bus.Publish(small, Ct);

        var refused = await FinalAsync(large.JobId);
        Assert.Equal(JobStatus.Failed, refused.Status);
        Assert.Contains("budget for loaded models", refused.Error, StringComparison.Ordinal);
        Assert.Equal(JobStatus.Succeeded, (await FinalAsync(small.JobId)).Status);
        Assert.DoesNotContain(("too-large", 1), _cache.Loaded);
        Assert.False(await _harness.Consumed.Any<SubmitPredictJob>(m => m.Exception is not null, Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task LoadingPastTheBudgetUnloadsTheLeastRecentlyUsedIdleModel()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            await RegisterAsync(name, Small);
        }

        foreach (var name in new[] { "a", "b", "a" })
        {
            using var lease = await _cache.RentAsync(name, null, Ct);
        }

        Assert.Equal(2 * SmallCost, _cache.LoadedBytes);

        using (await _cache.RentAsync("c", null, Ct))
        {
            // b was used longer ago than a.
            Assert.Equal([("a", 1), ("c", 1)], _cache.Loaded.Order());
        }

        using (await _cache.RentAsync("b", null, Ct))
        {
            Assert.Equal([("b", 1), ("c", 1)], _cache.Loaded.Order());
        }

        Assert.Equal(2 * SmallCost, _cache.LoadedBytes);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task AModelWithAJobInHandIsNeverUnloadedAndALoadWaitsUntilOneIsIdle()
    {
        foreach (var name in new[] { "a", "b", "c" })
        {
            await RegisterAsync(name, Small);
        }

        var a = await _cache.RentAsync("a", null, Ct);
        using var b = await _cache.RentAsync("b", null, Ct);
        var c = _cache.RentAsync("c", null, Ct);

        // b was rented after a, so a is the one to go once it is idle; b, still held, must stay loaded and runnable.
        a.Dispose();
        using var loaded = await c.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal([("b", 1), ("c", 1)], _cache.Loaded.Order());
        var (request, error) = RequestPreparer.Prepare(b.Model, Job("b"), InputLimits.Default);
        Assert.Null(error);
        var (outputs, _) = b.Model.Run([request!]);
        Assert.Equal(3, outputs[0][0].Tensor.Shape[^1]);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task JobsForMoreModelsThanTheBudgetHoldsAllSucceedAndTheLoadedModelsStayWithinIt()
    {
        var names = new[] { "m1", "m2", "m3", "m4" };
        foreach (var name in names)
        {
            await RegisterAsync(name, Small);
        }

        var jobs = new List<SubmitPredictJob>();
        for (var round = 0; round < 3; round++)
        {
            foreach (var name in names)
            {
                var job = Job(name);
                jobs.Add(job);
                await _harness.Bus.Publish(job, Ct);
            }
        }

        foreach (var job in jobs)
        {
            Assert.Equal(JobStatus.Succeeded, (await FinalAsync(job.JobId)).Status);
        }

        Assert.InRange(_cache.Loaded.Count, 1, 2);
        Assert.InRange(_cache.LoadedBytes, SmallCost, Budget);
    }

    private Task RegisterAsync(string name, byte[] onnx) =>
        _worker.RegisterModelAsync(name, onnx, new BatchingSettings { MaxBatchSize = 4, MaxQueueDelayMilliseconds = 1 }, Ct);

    private async Task<JobRecord> FinalAsync(Guid jobId)
    {
        var jobs = _worker.Services.GetRequiredService<IJobStore>();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(WorkerHarness.Wait);
        while (true)
        {
            if (await jobs.GetAsync(Tenants.DefaultTenantId, jobId, limit.Token) is { IsFinal: true } record)
            {
                return record;
            }

            await Task.Delay(20, limit.Token);
        }
    }

    private static SubmitPredictJob Job(string model) => new()
    {
        JobId = Guid.CreateVersion7(),
        Model = model,
        Features = [1, 2, 3, 4],
        SubmittedAt = DateTimeOffset.UtcNow,
    };
}
