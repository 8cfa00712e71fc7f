using System.Net.Http.Json;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Three worker processes on one broker, as in a scaled-out deployment.</summary>
public sealed class ThreeWorkerSystem : DistributedSystem
{
    protected override int WorkerCount => 3;

    // A small prefetch per worker, as operators set it when workers scale out: the broker keeps the backlog and
    // hands it to whichever worker has room, instead of one worker hoarding it.
    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PrefetchCount"] = "24",
    };
}

/// <summary>Competing consumers: workers share one queue, every job completes once, batching stays per worker and per model.</summary>
public sealed class ScaleOutTests(ThreeWorkerSystem system) : IClassFixture<ThreeWorkerSystem>
{
    [Fact]
    public async Task ThreeWorkerProcessesShareTheQueueAndEveryJobCompletesOnceInCorrectBatches()
    {
        var ct = TestTimeout.After(180);
        var (mlp, onnx) = TestModels.Classifier(seed: 41);
        var name = TestModels.UniqueName("scale");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);

        var random = new Random(17);
        var requests = Enumerable.Range(0, 900).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }).ToList();
        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.Equal(ids.Count, jobs.Select(j => j.Id).Distinct().Count());

        // The work is spread: every worker ran a real share of it.
        var perWorker = jobs.GroupBy(j => j.WorkerId).ToDictionary(g => g.Key!, g => g.Count());
        Assert.Equal(["worker-1", "worker-2", "worker-3"], perWorker.Keys.Order());
        // How evenly depends on who loads the model first and on a shared 2-core machine, so only the spread is asserted:
        // every worker took part and none did nearly all of it.
        var spread = string.Join(", ", perWorker);
        Assert.All(perWorker, w => Assert.True(w.Value > 0, $"{w.Key} ran no job: {spread}"));
        Assert.True(perWorker.Values.Max() < jobs.Length * 0.9, $"One worker ran nearly every job: {spread}");

        // Batching is still correct: a batch is one model call on one worker, within the model's limit.
        foreach (var batch in jobs.GroupBy(j => j.BatchId))
        {
            Assert.Single(batch.Select(j => j.WorkerId).Distinct());
            Assert.InRange(batch.Count(), 1, 8);
            Assert.All(batch, j => Assert.Equal(batch.Count(), j.BatchSize));
        }

        Assert.True(jobs.Select(j => j.BatchId).Distinct().Count() < jobs.Length / 2, "Jobs should still run in batches when spread over workers.");

        // And results are each job's own, whichever worker ran it.
        foreach (var job in perWorker.Keys.Select(w => jobs.First(j => j.WorkerId == w)))
        {
            var index = ids.ToList().IndexOf(job.Id);
            var output = await system.Client.GetOutputAsync(job.Id, ct);
            Assert.Equal(mlp.Forward(requests[index].Features!, 1)[0], output.Outputs.Named(mlp.OutputName).ToFloats()[0], 5);
        }

        Assert.All(system.Workers, w => Assert.False(w.HasExited, w.Output));
    }

    [Fact]
    public async Task OperationsEndpointsShowTheConsumersPerQueueAndTheWorkSpreadAcrossWorkers()
    {
        var ct = TestTimeout.After(180);
        var (_, onnx) = TestModels.Classifier(seed: 42);
        var name = TestModels.UniqueName("ops");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 4, MaxQueueDelayMilliseconds = 10 }, cancellationToken: ct);
        var random = new Random(18);
        var ids = await system.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 300).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }), ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        var workers = jobs.Select(j => j.WorkerId!).Distinct().Order().ToArray();

        using var http = new HttpClient { BaseAddress = system.ApiUrl };
        var queues = await http.GetFromJsonAsync<JsonElement>("v1/ops/queues", ct);
        Assert.Equal("rabbitmq-management", queues.GetProperty("source").GetString());
        var predict = queues.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("name").GetString() == "predict-jobs");
        Assert.Equal(3, predict.GetProperty("consumers").GetInt32());

        // Batch events reach the API asynchronously: wait until it has heard of every batch.
        var batches = jobs.Select(j => j.BatchId).Distinct().Count();
        JsonElement model;
        while (true)
        {
            var throughput = await http.GetFromJsonAsync<JsonElement>("v1/ops/throughput?minutes=5", ct);
            model = throughput.GetProperty("models").EnumerateArray().FirstOrDefault(m => m.GetProperty("name").GetString() == name);
            if (model.ValueKind != JsonValueKind.Undefined && model.GetProperty("batches").GetInt32() >= batches)
            {
                var seen = throughput.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("name").GetString()).ToHashSet();
                Assert.Superset(workers.ToHashSet(), seen!);
                break;
            }

            await Task.Delay(200, ct);
        }

        Assert.Equal(300, model.GetProperty("jobs").GetInt32());
        Assert.InRange(model.GetProperty("meanBatchSize").GetDouble(), 1, 4);

        var batch = await http.GetFromJsonAsync<PredictBatchCompleted>($"v1/ops/batches/{jobs[0].BatchId}", ct);
        Assert.Equal(jobs[0].WorkerId, batch!.WorkerId);
        Assert.Contains(batch.Jobs, j => j.JobId == jobs[0].Id);
    }
}
