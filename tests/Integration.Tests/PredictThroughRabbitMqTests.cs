using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Predict jobs from the SDK through a real RabbitMQ broker to a separate worker process, read back over HTTP.</summary>
public sealed class PredictThroughRabbitMqTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Fact]
    public async Task PredictJobTravelsFromSdkThroughRabbitMqToStoredResultReadOverHttp()
    {
        var ct = TestTimeout.After(120);
        var (mlp, onnx) = TestModels.Classifier();
        var name = TestModels.UniqueName("e2e");
        var registered = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        Assert.Equal(1, registered.Version);
        Assert.Equal([-1, 4], registered.Inputs.Single().Shape);

        float[] features = [0.5f, -1.25f, 3f, 2f];
        var result = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = features }, ct);

        Assert.Equal(JobStatus.Succeeded, result.Job.Status);
        Assert.Equal("cpu", result.Job.Device);
        Assert.Equal("worker-1", result.Job.WorkerId);
        Assert.Equal(1, result.Job.ModelVersion);
        Assert.InRange(result.Job.BatchSize ?? 0, 1, 64);
        var expected = mlp.Forward(features, 1);
        var actual = result.Outputs[mlp.OutputName];
        Assert.Equal([1, 3], actual.Shape);
        Assert.Equal("FP32", actual.Datatype);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual.ToFloats()[i], 5);
        }

        var viaHttp = await system.Client.GetJobAsync(result.Job.Id, ct);
        Assert.Equal(JobStatus.Succeeded, viaHttp!.Status);
        Assert.NotNull(viaHttp.CompletedAt);
    }

    [Fact]
    public async Task ConcurrentRequestsForOneModelRunInFarFewerModelCallsAndNoBatchExceedsItsLimit()
    {
        var ct = TestTimeout.After(120);
        var (mlp, onnx) = TestModels.Classifier(seed: 3);
        var name = TestModels.UniqueName("batch");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);

        var random = new Random(5);
        var requests = Enumerable.Range(0, 200).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }).ToList();
        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        var batches = jobs.GroupBy(j => j.BatchId).ToList();
        Assert.True(batches.Count <= 200 / 4, $"200 jobs ran in {batches.Count} model calls; batching should need far fewer.");
        Assert.All(batches, b => Assert.InRange(b.Count(), 1, 16));
        Assert.All(batches, b => Assert.All(b, j => Assert.Equal(b.Count(), j.BatchSize)));

        // Batching must not mix up records: each output is its own input's.
        for (var i = 0; i < 10; i++)
        {
            var output = await system.Client.GetOutputAsync(ids[i], ct);
            var expected = mlp.Forward(requests[i].Features!, 1);
            Assert.Equal(expected[0], output.Outputs.Named(mlp.OutputName).ToFloats()[0], 5);
        }
    }

    [Fact]
    public async Task BadInputFailsOnlyItsOwnJobWithAReadableReason()
    {
        var ct = TestTimeout.After(120);
        var (_, onnx) = TestModels.Classifier(seed: 9);
        var name = TestModels.UniqueName("bad");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 32, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);

        var random = new Random(8);
        var good = Enumerable.Range(0, 40).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) });
        (PredictRequest Request, string Reason)[] bad =
        [
            (new PredictRequest { Model = name, Features = [1f, 2f, 3f] }, "has 3 values; it takes the 4 float values"),
            (new PredictRequest { Model = name, Features = [1f, float.NaN, 3f, 4f] }, "non-finite value (NaN) at index 1"),
            (new PredictRequest { Model = name, Features = [] }, "is empty"),
            (new PredictRequest { Model = name }, "No input given"),
            (new PredictRequest { Model = name, Inputs = [Tensors.Fp32("nope", [1, 4], [1f, 2f, 3f, 4f])] }, "has no input 'nope'"),
            (new PredictRequest { Model = name + "-missing", Features = [1f, 2f, 3f, 4f] }, "is not registered"),
            (new PredictRequest { Model = name, ModelVersion = 7, Features = [1f, 2f, 3f, 4f] }, "has no version 7"),
        ];
        var requests = good.Concat(bad.Select(b => b.Request)).ToList();
        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs.Take(40), j => Assert.Equal(JobStatus.Succeeded, j.Status));
        for (var i = 0; i < bad.Length; i++)
        {
            var job = jobs[40 + i];
            Assert.Equal(JobStatus.Failed, job.Status);
            Assert.Contains(bad[i].Reason, job.Error, StringComparison.Ordinal);
        }

        var failure = await Assert.ThrowsAsync<JobFailedException>(() =>
            system.Client.PredictAsync(new PredictRequest { Model = name, Features = [1f] }, ct));
        Assert.Contains("has 1 values", failure.Message, StringComparison.Ordinal);
        Assert.False(system.Workers[0].HasExited, "A bad job must never take the worker down.");
    }

    [Fact]
    public async Task ResubmittingAJobIdRunsTheJobOnce()
    {
        var ct = TestTimeout.After(120);
        var (_, onnx) = TestModels.Classifier(seed: 4);
        var name = TestModels.UniqueName("idem");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        var jobId = Guid.NewGuid();
        var first = await system.Client.PredictAsync(new PredictRequest { Model = name, JobId = jobId, Features = [1f, 2f, 3f, 4f] }, ct);

        await system.Client.SubmitPredictAsync(new PredictRequest { Model = name, JobId = jobId, Features = [9f, 9f, 9f, 9f] }, ct);
        // A later job on the same queue has run once the duplicate has been consumed (one queue, one consumer).
        await system.Client.PredictAsync(new PredictRequest { Model = name, Features = [1f, 1f, 1f, 1f] }, ct);

        var again = await system.Client.GetJobAsync(jobId, ct);
        Assert.Equal(first.Job.BatchId, again!.BatchId);
        Assert.Equal(first.Job.CompletedAt, again.CompletedAt);
        var output = await system.Client.GetOutputAsync(jobId, ct);
        Assert.Equal(first.Outputs.Named("output").ToFloats(), output.Outputs.Named("output").ToFloats());
    }

    [Fact]
    public async Task ANewModelVersionIsServedAsLatestWhileOldVersionsStayAddressable()
    {
        var ct = TestTimeout.After(120);
        var name = TestModels.UniqueName("ver");
        var (v1, onnx1) = TestModels.Classifier(seed: 21);
        var (v2, onnx2) = TestModels.Classifier(seed: 22);
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx1), cancellationToken: ct);
        var first = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = [1f, 2f, 3f, 4f] }, ct);
        Assert.Equal(1, first.Job.ModelVersion);

        var second = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx2), cancellationToken: ct);
        Assert.Equal(2, second.Version);
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct); // the worker re-resolves "latest" after its TTL (2 s)
        var latest = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = [1f, 2f, 3f, 4f] }, ct);
        var pinned = await system.Client.PredictAsync(new PredictRequest { Model = name, ModelVersion = 1, Features = [1f, 2f, 3f, 4f] }, ct);

        Assert.Equal(2, latest.Job.ModelVersion);
        Assert.Equal(v2.Forward([1f, 2f, 3f, 4f], 1)[0], latest.Outputs.Named(v2.OutputName).ToFloats()[0], 5);
        Assert.Equal(1, pinned.Job.ModelVersion);
        Assert.Equal(v1.Forward([1f, 2f, 3f, 4f], 1)[0], pinned.Outputs.Named(v1.OutputName).ToFloats()[0], 5);
    }
}
