using System.Net;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The embedded default: one process, in-memory transport, embedded store, workers and API on loopback.</summary>
public sealed class EmbeddedDefaultTests : IAsyncLifetime
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-embedded-");
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private IAiaasClient Client => _app.Services.GetRequiredService<IAiaasClient>();

    public async ValueTask InitializeAsync()
    {
        _app = Quickstart.BuildEmbeddedServer(_data);
        await _app.StartAsync(TestContext.Current.CancellationToken);
        _http = new HttpClient { BaseAddress = _app.GetAddress() };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Delete(recursive: true);
    }

    [Fact]
    public async Task QuickstartRunsTheWholeSystemInOneProcess()
    {
        var data = Directory.CreateTempSubdirectory("aiaas-quickstart-");
        try
        {
            Assert.Equal(0, await Quickstart.RunAsync(120, data, TestContext.Current.CancellationToken));
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task PredictJobsAreBatchedAndReadableOverHttp()
    {
        var ct = TestContext.Current.CancellationToken;
        var (mlp, onnx) = TestModels.Classifier(seed: 31);
        await Client.RegisterModelAsync("embedded", new MemoryStream(onnx), new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 10 }, cancellationToken: ct);
        var random = new Random(2);
        var requests = Enumerable.Range(0, 100).Select(_ => new PredictRequest { Model = "embedded", Features = TestModels.RandomRecord(random) }).ToList();
        var ids = await Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.All(jobs, j => Assert.InRange(j.BatchSize ?? 0, 1, 8));
        Assert.True(jobs.Select(j => j.BatchId).Distinct().Count() < 100 / 2);

        var output = await _http.GetFromJsonAsync<JobOutputView>($"v1/jobs/{ids[0]}/output", ct);
        Assert.Equal(mlp.Forward(requests[0].Features!, 1)[1], output!.Outputs.Named("output").ToFloats()[1], 5);
    }

    [Fact]
    public async Task UnknownJobIsA404ProblemDetails()
    {
        var response = await _http.GetAsync($"v1/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>(TestContext.Current.CancellationToken);
        Assert.Equal("Unknown job", problem!["title"].ToString());
    }

    [Fact]
    public async Task JobListFiltersByStatusAndModelAndPagesWithACursor()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, onnx) = TestModels.Classifier(seed: 32);
        await Client.RegisterModelAsync("listed", new MemoryStream(onnx), cancellationToken: ct);
        var ids = await Client.SubmitPredictManyAsync(Enumerable.Range(0, 25)
            .Select(i => new PredictRequest { Model = "listed", Features = i % 5 == 0 ? [1f] : [1f, 2f, 3f, 4f] }), ct);
        await Task.WhenAll(ids.Select(id => Client.WaitForCompletionAsync(id, ct)));

        var failed = await Client.ListJobsAsync(JobStatus.Failed, "listed", cancellationToken: ct);
        Assert.Equal(5, failed.Items.Count);
        Assert.All(failed.Items, j => Assert.Equal(JobStatus.Failed, j.Status));

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Client.ListJobsAsync(model: "listed", limit: 7, cursor: cursor, cancellationToken: ct);
            Assert.InRange(page.Items.Count, 0, 7);
            seen.AddRange(page.Items.Select(j => j.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(ids.OrderBy(i => i), seen.OrderBy(i => i));
        var bad = await _http.GetAsync("v1/jobs?cursor=not-a-cursor", ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task ModelUploadIsValidatedByOnnxRuntimeAndVersioned()
    {
        var ct = TestContext.Current.CancellationToken;
        var garbage = await Assert.ThrowsAsync<AiaasApiException>(() =>
            Client.RegisterModelAsync("broken", new MemoryStream([1, 2, 3, 4, 5]), cancellationToken: ct));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Contains("Not a valid ONNX model", garbage.Detail, StringComparison.Ordinal);

        var (_, onnx) = TestModels.Classifier(seed: 33);
        var v1 = await Client.RegisterModelAsync("versioned", new MemoryStream(onnx), cancellationToken: ct);
        var v2 = await Client.RegisterModelAsync("versioned", new MemoryStream(onnx), cancellationToken: ct);
        Assert.Equal((1, 2), (v1.Version, v2.Version));
        var latest = await _http.GetFromJsonAsync<ModelView>("v1/models/versioned/versions/latest", ct);
        Assert.Equal(2, latest!.Version);
        Assert.Contains(await Client.ListModelsAsync(ct), m => m is { Name: "versioned", Version: 1 });
    }

    [Fact]
    public async Task ReadinessReportsStoreAndBus()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("health/live", ct)).StatusCode);
        HttpResponseMessage ready;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            ready = await _http.GetAsync("health/ready", ct);
        }
        while (ready.StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline && await Delay(ct));

        var body = await ready.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"store\"", body, StringComparison.Ordinal);
        Assert.Contains("masstransit", body, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<bool> Delay(CancellationToken ct)
    {
        await Task.Delay(200, ct);
        return true;
    }
}
