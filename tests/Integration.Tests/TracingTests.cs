using System.Collections.Concurrent;
using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Server;
using AIaaS.Queue.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>One job's trace, from the SDK's publish through the consumer and its batch to the stored result.</summary>
public sealed class TracingTests : IAsyncLifetime
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-trace-");
    private readonly ConcurrentBag<Activity> _spans = [];
    private ActivityListener _listener = null!;
    private WebApplication _app = null!;

    public async ValueTask InitializeAsync()
    {
        // What an OpenTelemetry TracerProvider with AddSource("MassTransit", "AIaaS.Queue") would collect.
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is AiaasTelemetry.MassTransitName or AiaasTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Add,
        };
        ActivitySource.AddActivityListener(_listener);

        _app = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Transport:Kind"] = "InMemory",
            ["Store:Kind"] = "Embedded",
            ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
            ["Workers:ModelCacheDirectory"] = Path.Combine(_data.FullName, "models"),
            ["Workers:WorkerId"] = "traced-worker",
        }, builder =>
        {
            builder.Services.AddAiaasClient(_ => { });
            builder.Services.AddOptions<AiaasClientOptions>().PostConfigure<IServer>((options, server) => options.ApiUrl = server.GetAddress());
        });
        await _app.StartAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _listener.Dispose();
        _data.Delete(recursive: true);
    }

    [Fact]
    public async Task OneTraceFollowsAJobFromSdkPublishToItsStoredResult()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = _app.Services.GetRequiredService<IAiaasClient>();
        var (_, onnx) = TestModels.Classifier(seed: 51);
        await client.RegisterModelAsync("traced", new MemoryStream(onnx), cancellationToken: ct);
        var result = await client.PredictAsync(new PredictRequest { Model = "traced", Features = [1f, 2f, 3f, 4f] }, ct);
        Assert.Equal(JobStatus.Succeeded, result.Job.Status);

        // The job's span ends after its result is stored; the consume span that encloses it ends just after.
        var jobId = result.Job.Id.ToString();
        Activity? job = null, consume = null;
        for (var i = 0; i < 100 && (job is null || consume is null); i++)
        {
            job = _spans.FirstOrDefault(s => s.OperationName == "predict job" && (s.GetTagItem("aiaas.job.id") as string) == jobId);
            consume = job is null ? null : _spans.FirstOrDefault(s => s.SpanId == job.ParentSpanId);
            await Task.Delay(50, ct);
        }

        Assert.NotNull(job);
        Assert.NotNull(consume);
        var trace = _spans.Where(s => s.TraceId == job.TraceId).ToList();

        // The root is the SDK's publish (a producer span); the worker's consume span descends from it.
        var root = Assert.Single(trace, s => s.Parent is null && s.ParentSpanId == default);
        Assert.Equal(ActivityKind.Producer, root.Kind);
        Assert.Equal(AiaasTelemetry.MassTransitName, root.Source.Name);
        Assert.Equal(ActivityKind.Consumer, consume.Kind);
        Assert.Equal(AiaasTelemetry.MassTransitName, consume.Source.Name);
        Assert.Contains(nameof(SubmitPredictJob), consume.DisplayName + string.Join(",", consume.Tags.Select(t => t.Value)), StringComparison.Ordinal);

        // The job's own span records where it ran and ends with the result stored.
        Assert.Equal("Succeeded", job.GetTagItem("aiaas.job.status"));
        Assert.Equal("traced-worker", job.GetTagItem("aiaas.worker.id"));
        Assert.Equal(result.Job.BatchId, job.GetTagItem("aiaas.batch.id"));
        Assert.True(job.StartTimeUtc + job.Duration <= result.Job.CompletedAt!.Value.UtcDateTime.AddSeconds(1));

        // The batch is one span of its own, linked to every job it ran.
        var batch = Assert.Single(_spans, s => s.OperationName == "predict batch" && (s.GetTagItem("aiaas.batch.id") as string) == result.Job.BatchId);
        Assert.Contains(batch.Links, l => l.Context.TraceId == job.TraceId);
        Assert.NotEqual(job.TraceId, batch.TraceId);
    }
}
