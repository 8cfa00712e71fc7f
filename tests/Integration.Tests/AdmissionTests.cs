using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Per-job time-to-live and priority levels, on the default distributed layout.</summary>
public sealed class ExpiryAndPriorityTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Fact]
    public async Task AJobStillQueuedAfterItsTimeToLiveEndsExpiredWithoutRunning()
    {
        var ct = TestTimeout.After(180);
        var (_, onnx) = TestModels.Classifier(seed: 51);
        var name = TestModels.UniqueName("ttl");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);

        var random = new Random(51);
        var expiring = await system.Client.SubmitPredictAsync(
            new PredictRequest { Model = name, Features = TestModels.RandomRecord(random), TimeToLive = TimeSpan.FromMilliseconds(1) }, ct);
        var lasting = await system.Client.SubmitPredictAsync(
            new PredictRequest { Model = name, Features = TestModels.RandomRecord(random), TimeToLive = TimeSpan.FromMinutes(5) }, ct);

        var expired = await system.Client.WaitForCompletionAsync(expiring, ct);
        Assert.Equal(JobStatus.Expired, expired.Status);
        Assert.Null(expired.StartedAt);
        Assert.Null(expired.BatchId);
        Assert.Contains("Expired", expired.Error, StringComparison.Ordinal);
        var failure = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.GetOutputAsync(expiring, ct));
        Assert.Equal(HttpStatusCode.Conflict, failure.StatusCode);

        Assert.Equal(JobStatus.Succeeded, (await system.Client.WaitForCompletionAsync(lasting, ct)).Status);
        var listed = await system.Client.ListJobsAsync(JobStatus.Expired, name, cancellationToken: ct);
        Assert.Equal([expiring], listed.Items.Select(j => j.Id));
    }

    [Fact]
    public Task AHighPriorityJobSubmittedBehindANormalBacklogCompletesBeforeMostOfIt() => PriorityCheck.RunAsync(system);
}

/// <summary>Workers whose batches give their model instance back before their results are stored
/// (<c>Workers:PipelinedResultWrites</c>), at most two batches ahead of the store.</summary>
public sealed class PipelinedWritesSystem : DistributedSystem
{
    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PipelinedResultWrites"] = "true",
    };
}

/// <summary>Priority holds with pipelined result writes too: the model's run-ahead of the store is bounded, so the jobs a
/// worker holds wait, and a high-priority job arriving later goes before them.</summary>
public sealed class PipelinedWritesPriorityTests(PipelinedWritesSystem system) : IClassFixture<PipelinedWritesSystem>
{
    [Fact]
    public Task AHighPriorityJobSubmittedBehindANormalBacklogCompletesBeforeMostOfIt() => PriorityCheck.RunAsync(system);
}

internal static class PriorityCheck
{
    /// <summary>400 normal jobs of a slow model, then one high-priority job: it must finish ahead of most of the backlog.</summary>
    public static async Task RunAsync(DistributedSystem system)
    {
        var ct = TestTimeout.After(240);
        // A slow model (a few milliseconds per record) with small batches, so that a backlog builds up.
        var (_, onnx) = TestModels.Classifier(seed: 52, hidden: [2048, 2048, 2048]);
        var name = TestModels.UniqueName("prio");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 4, MaxQueueDelayMilliseconds = 1 }, cancellationToken: ct);

        var random = new Random(52);
        var normal = await system.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 400).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }), ct);
        var high = await system.Client.SubmitPredictAsync(
            new PredictRequest { Model = name, Features = TestModels.RandomRecord(random), Priority = JobPriority.High }, ct);

        var highJob = await system.Client.WaitForCompletionAsync(high, ct);
        var normalJobs = await Task.WhenAll(normal.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.Equal(JobStatus.Succeeded, highJob.Status);
        Assert.All(normalJobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        // Priority is judged against the backlog still waiting when the high-priority job was submitted: what the worker
        // finished while the SDK was still publishing the 400 (on a loaded machine, half of them or more) is no overtaking.
        // Of the rest, only the batches already running or filling when it arrived may finish first; without priority,
        // every one of them would.
        var waiting = normalJobs.Where(j => j.CompletedAt > highJob.SubmittedAt).ToArray();
        Assert.True(waiting.Length >= 64,
            $"Only {waiting.Length} of {normal.Count} normal jobs were unfinished when the high-priority job was submitted: no backlog to judge priority by.");
        var overtook = waiting.Count(j => j.CompletedAt < highJob.CompletedAt);
        TestContext.Current.TestOutputHelper?.WriteLine($"{overtook} of the {waiting.Length} normal jobs still waiting finished ahead of the high-priority job");
        Assert.True(overtook < Math.Max(16, waiting.Length / 4),
            $"{overtook} of the {waiting.Length} normal jobs still waiting when the high-priority job was submitted finished ahead of it.");
    }
}

/// <summary>A ResultApi that admits at most a few queued predict jobs per model, and workers that hold few messages.</summary>
public sealed class AdmissionLimitSystem : DistributedSystem
{
    public const int MaxQueued = 5;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PrefetchCount"] = "4",
    };

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["ResultApi:MaxQueuedJobsPerModel"] = MaxQueued.ToString(CultureInfo.InvariantCulture),
    };
}

public sealed class AdmissionTests(AdmissionLimitSystem system) : IClassFixture<AdmissionLimitSystem>
{
    [Fact]
    public async Task AModelAtItsBacklogLimitRefusesNewHttpJobsWith429AndRetryAfter()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        // Batches that never fill (prefetch 4, batch limit 64) run only every 2 s: the backlog stays for a while.
        var (_, onnx) = TestModels.Classifier(seed: 53);
        var name = TestModels.UniqueName("full");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 2000 }, cancellationToken: ct);
        var other = TestModels.UniqueName("free");
        await system.Client.RegisterModelAsync(other, new MemoryStream(onnx), cancellationToken: ct);

        var random = new Random(53);
        using var http = new HttpClient { BaseAddress = system.ApiUrl };
        var accepted = new List<Guid>();
        HttpResponseMessage? tooMany = null;
        for (var i = 0; i < 100 && tooMany is null; i++)
        {
            var response = await http.PostAsJsonAsync("v1/jobs", new { model = name, features = TestModels.RandomRecord(random) }, WireJson.Options, ct);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                tooMany = response;
                continue;
            }

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            accepted.Add((await response.Content.ReadFromJsonAsync<JobView>(WireJson.Options, ct))!.Id);
            response.Dispose();
        }

        Assert.NotNull(tooMany);
        using (tooMany)
        {
            Assert.True(tooMany.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Equal("application/problem+json", tooMany.Content.Headers.ContentType?.MediaType);
        }

        Assert.InRange(accepted.Count, AdmissionLimitSystem.MaxQueued, 99);

        // The limit is per model: another model still takes jobs.
        using (var free = await http.PostAsJsonAsync("v1/jobs", new { model = other, features = TestModels.RandomRecord(random) }, WireJson.Options, ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, free.StatusCode);
        }

        // Refusal is no failure of the system: every accepted job still completes.
        var jobs = await Task.WhenAll(accepted.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
    }

    [Fact]
    public async Task TheSdkPublishingToTheBrokerIsRefusedWithAnOverloadedExceptionAtTheSameLimit()
    {
        var ct = TestTimeout.After(180);
        var (_, onnx) = TestModels.Classifier(seed: 54);
        var name = TestModels.UniqueName("sdkfull");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 2000 }, cancellationToken: ct);

        var random = new Random(54);
        var accepted = new List<Guid>();
        AiaasOverloadedException? refused = null;
        // Jobs the SDK publishes are recorded as queued by the workers' registry a moment later; submitting at a steady
        // pace lets the backlog the API sees catch up with what was published.
        for (var i = 0; i < 200 && refused is null; i++)
        {
            try
            {
                accepted.Add(await system.Client.SubmitPredictAsync(new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }, ct));
                await Task.Delay(25, ct);
            }
            catch (AiaasOverloadedException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(name, refused.Model);
        Assert.True(refused.RetryAfter > TimeSpan.Zero);
        Assert.InRange(accepted.Count, AdmissionLimitSystem.MaxQueued, 199);
        await Assert.ThrowsAsync<AiaasOverloadedException>(() => system.Client.SubmitPredictManyAsync(
            [new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }], ct));

        var jobs = await Task.WhenAll(accepted.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
    }
}
