using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.Store;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The distributed layout with retention configured: outputs kept a day, records a week, bulk results a day;
/// steps of 50 so that the tests see the sweeps batch.</summary>
public sealed class RetentionSystem : DistributedSystem
{
    public const int BatchSize = 50;

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Retention:Default:JobPayloads"] = "1.00:00:00",
        ["Retention:Default:JobRecords"] = "7.00:00:00",
        ["Retention:Default:BulkOutputs"] = "1.00:00:00",
        ["Retention:Default:Files"] = "2.00:00:00",
        ["Retention:BatchSize"] = $"{BatchSize}",
        ["Retention:PauseBetweenBatches"] = "00:00:00",
    };

    /// <summary>A sweeper over the API's store whose clock runs <paramref name="ahead"/> of the real one, so that a test sees
    /// days pass without waiting for them (the API's own sweeper keeps the real clock).</summary>
    public RetentionSweeper SweeperAhead(TimeSpan ahead, RetentionOptions? options = null) => new(
        ApiServices.GetRequiredService<IRetentionStore>(),
        ApiServices.GetRequiredService<ITenantStore>(),
        options is null ? ApiServices.GetRequiredService<IOptions<RetentionOptions>>() : Options.Create(options),
        new ShiftedTimeProvider(ahead),
        NullLogger<RetentionSweeper>.Instance);

    /// <summary>The API's periods with the production defaults for steps (500 items, 20 ms apart).</summary>
    public RetentionOptions DefaultSteps()
    {
        var configured = ApiServices.GetRequiredService<IOptions<RetentionOptions>>().Value;
        return new RetentionOptions { Default = configured.Default, Tenants = configured.Tenants };
    }

    /// <summary>One sweep, waiting out the API's own sweeper if it holds the lease at that moment.</summary>
    public static async Task<SweepReport> SweepAsync(RetentionSweeper sweeper, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await sweeper.SweepOnceAsync(cancellationToken) is { } report)
            {
                return report;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private sealed class ShiftedTimeProvider(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + ahead;
    }
}

/// <summary>What retention promises end to end: swept outputs answer 410 with when they expired, sweeps run in bounded
/// batches and give the space back, and a record past its own period is gone.</summary>
public sealed class RetentionTests(RetentionSystem system, ITestOutputHelper output) : IClassFixture<RetentionSystem>
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task ASweptJobAnswers410WithItsExpiryTimeTheSweepBatchesAndTheStoreShrinks()
    {
        var ct = TestTimeout.After(240);
        using var http = new HttpClient { BaseAddress = system.ApiUrl };
        var name = TestModels.UniqueName("retained");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 41).Onnx), cancellationToken: ct);
        var random = new Random(41);
        var ids = await system.Client.SubmitPredictManyAsync(
            [.. Enumerable.Range(0, 300).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) })], ct);
        await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        var lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{{\"id\":{i},\"features\":[1,2,3,{i % 7}]}}\n")));
        var bulk = await system.Client.SubmitBulkAsync(new BulkScoreRequest { Model = name, Input = new MemoryStream(lines), ChunkSize = 200 }, ct);
        bulk = await system.Client.WaitForBulkAsync(bulk.Id, cancellationToken: ct);
        Assert.Equal(BulkJobStatus.Succeeded, bulk.Status);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/jobs/{ids[0]}/output", ct)).StatusCode);
        var before = await GetStorageAsync(http, ct);

        var sweeper = system.SweeperAhead(TimeSpan.FromDays(2));
        var report = await RetentionSystem.SweepAsync(sweeper, ct);

        var after = await GetStorageAsync(http, ct);
        var seconds = (report.FinishedAt - report.StartedAt).TotalSeconds;
        output.WriteLine($"sweep: {report.JobPayloads.Count} payloads, {report.BulkOutputs.Count} bulk chunks ({report.BulkOutputs.Bytes} bytes) " +
            $"in {report.Batches} batches, {seconds:F2} s ({(report.JobPayloads.Count + report.BulkOutputs.Count) / seconds:F0} rows/s); " +
            $"store {before.Size.TotalBytes} -> {after.Size.TotalBytes} bytes, {report.ReclaimedBytes} given back");
        Assert.True(report.JobPayloads.Count >= 300, $"{report.JobPayloads.Count} payloads swept");
        Assert.Equal(200, report.BulkOutputs.Count); // 100 result chunks and 100 input chunks
        Assert.True(report.Batches >= 300 / RetentionSystem.BatchSize + 200 / RetentionSystem.BatchSize, $"{report.Batches} batches");
        Assert.Equal(0, report.JobRecords.Count);
        Assert.True(after.Size.TotalBytes < before.Size.TotalBytes, $"{before.Size.TotalBytes} -> {after.Size.TotalBytes} bytes");
        Assert.Equal(report, after.LastSweep);

        var gone = await http.GetAsync($"/v1/jobs/{ids[0]}/output", ct);
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        var problem = await gone.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(report.StartedAt, problem.GetProperty("expiredAt").GetDateTimeOffset());
        var job = await system.Client.GetJobAsync(ids[0], ct);
        Assert.Equal((JobStatus.Succeeded, report.StartedAt), (job!.Status, job.OutputsExpiredAt));
        var results = await http.GetAsync($"/v1/batches/{bulk.Id}/output", ct);
        Assert.Equal(HttpStatusCode.Gone, results.StatusCode);
        Assert.Equal(report.StartedAt, (await results.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("expiredAt").GetDateTimeOffset());

        // A week later the record itself goes: the job is unknown.
        var records = await RetentionSystem.SweepAsync(system.SweeperAhead(TimeSpan.FromDays(8)), ct);
        Assert.True(records.JobRecords.Count >= 300, $"{records.JobRecords.Count} records deleted");
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/jobs/{ids[0]}", ct)).StatusCode);
    }

    [Fact]
    public async Task ASweepWhileJobsRunLosesNoneOfThemAndRecordsItsThroughput()
    {
        var ct = TestTimeout.After(240);
        var name = TestModels.UniqueName("busy");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 43).Onnx), cancellationToken: ct);

        // 20,000 finished jobs written straight to the store (as if from last week), so that the sweep has enough to do to
        // overlap the live jobs below.
        var store = system.ApiServices.GetRequiredService<IJobStore>();
        var lastWeek = DateTimeOffset.UtcNow.AddDays(-3);
        foreach (var chunk in Enumerable.Range(0, 20_000).Chunk(1_000))
        {
            await store.UpsertAsync([.. chunk.Select(i => new JobRecord
            {
                JobId = Guid.NewGuid(),
                TenantId = Domain.Tenants.DefaultTenantId,
                Kind = JobKind.Predict,
                Model = Domain.Tenants.QualifyModel(Domain.Tenants.DefaultTenantId, name),
                ModelVersion = 1,
                Status = JobStatus.Succeeded,
                SubmittedAt = lastWeek,
                CompletedAt = lastWeek,
                Outputs = [new InferTensor { Name = "y", Datatype = "FP32", Shape = [1, 3], Data = JsonSerializer.SerializeToElement(new[] { i, 0.5f, -1f }) }],
            })], ct);
        }

        // Live jobs run while a sweep (clock 2 days ahead) removes outputs in steps. It touches only final jobs, so a job
        // completing meanwhile is written whole and at most loses its outputs to the sweep, never its status.
        var random = new Random(43);
        var live = Task.Run(async () =>
        {
            var ids = await system.Client.SubmitPredictManyAsync(
                [.. Enumerable.Range(0, 1_000).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) })], ct);
            return await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        }, ct);
        var stopwatch = Stopwatch.StartNew();
        var report = await RetentionSystem.SweepAsync(system.SweeperAhead(TimeSpan.FromDays(2), system.DefaultSteps()), ct);
        stopwatch.Stop();
        var done = await live;

        output.WriteLine($"sweep while 1,000 jobs ran: {report.JobPayloads.Count} payloads in {report.Batches} batches of up to 500, 20 ms apart, " +
            $"{stopwatch.Elapsed.TotalSeconds:F2} s, {report.JobPayloads.Count / stopwatch.Elapsed.TotalSeconds:F0} rows/s");
        Assert.All(done, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.True(report.JobPayloads.Count >= 20_000, $"{report.JobPayloads.Count} payloads swept");
    }

    private static async Task<StorageSnapshot> GetStorageAsync(HttpClient http, CancellationToken ct)
    {
        var json = await http.GetStringAsync("/v1/ops/storage", ct);
        return JsonSerializer.Deserialize<StorageSnapshot>(json, Web)!;
    }

    private sealed record StorageSnapshot(StoreSize Size, SweepReport? LastSweep);
}
