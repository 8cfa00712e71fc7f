using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Workers whose prefetch is small, so that a slow model's backlog must stay in the broker.</summary>
public sealed class SmallPrefetchSystem : DistributedSystem
{
    public const int Prefetch = 8;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PrefetchCount"] = Prefetch.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

public sealed class BackpressureTests(SmallPrefetchSystem system) : IClassFixture<SmallPrefetchSystem>
{
    [Fact]
    public async Task ASlowModelLeavesItsBacklogInTheBrokerNotInWorkerMemory()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(4));
        var ct = timeout.Token;

        // Three 2048-wide layers: a few milliseconds per record on this CPU, so the queue outpaces the model.
        var (_, onnx) = TestModels.Classifier(seed: 41, hidden: [2048, 2048, 2048]);
        var name = TestModels.UniqueName("slow");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 4, MaxQueueDelayMilliseconds = 1 }, cancellationToken: ct);

        var random = new Random(4);
        var ids = await system.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 1000).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }), ct);
        var all = Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        long maxReady = 0, maxUnacked = 0;
        var samples = 0;
        while (!all.IsCompleted)
        {
            maxReady = Math.Max(maxReady, await system.Broker.GetReadyCountAsync("predict-jobs", ct));
            if (samples++ % 10 == 0)
            {
                // The management statistics lag by seconds, but every sample is a true count at its time.
                maxUnacked = Math.Max(maxUnacked, (await system.Broker.GetQueueAsync("predict-jobs", ct)).MessagesUnacknowledged);
            }

            await Task.WhenAny(all, Task.Delay(50, ct));
        }

        var jobs = await all;
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.True(maxUnacked <= SmallPrefetchSystem.Prefetch, $"The worker held {maxUnacked} unacknowledged messages; its prefetch is {SmallPrefetchSystem.Prefetch}.");
        Assert.True(maxReady > 0, "The backlog should have waited in the broker.");
        Assert.All(jobs, j => Assert.InRange(j.BatchSize ?? 0, 1, 4));
    }
}
