using System.Net;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Inputs are bounded before any work: values per record (over HTTP and on the broker), request bodies and data files.</summary>
public sealed class InputBoundsTests : IAsyncLifetime
{
    private const int MaxValues = 8;
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-bounds-");
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private IAiaasClient Client => _app.Services.GetRequiredService<IAiaasClient>();

    public async ValueTask InitializeAsync()
    {
        _app = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Transport:Kind"] = "InMemory",
            ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
            ["Workers:ModelCacheDirectory"] = Path.Combine(_data.FullName, "models"),
            ["Workers:MaxInputValues"] = $"{MaxValues}",
            ["ResultApi:MaxInputValues"] = $"{MaxValues}",
            ["ResultApi:MaxRequestBodyBytes"] = "4096",
            ["ResultApi:MaxDatasetBytes"] = "1024",
        }, builder =>
        {
            builder.Services.AddAiaasClient(_ => { });
            builder.Services.AddOptions<AiaasClientOptions>().PostConfigure<IServer>((options, server) => options.ApiUrl = server.GetAddress());
        });
        await _app.StartAsync(TestTimeout.After(30));
        _http = new HttpClient { BaseAddress = _app.GetAddress() };
        await Client.RegisterModelAsync("bounded", new MemoryStream(TestModels.Classifier(seed: 41).Onnx), cancellationToken: TestTimeout.After(30));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Delete(recursive: true);
    }

    [Fact]
    public async Task ARecordWithTooManyValuesIsRefusedOverHttpAndFailsOnTheBrokerWithoutRunning()
    {
        var ct = TestTimeout.After(60);
        var tooMany = new float[MaxValues + 1];

        using var response = await _http.PostAsJsonAsync("v1/jobs", new { model = "bounded", features = tooMany }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"at most {MaxValues}", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        var job = await Client.WaitForCompletionAsync(await Client.SubmitPredictAsync(new PredictRequest { Model = "bounded", Features = tooMany }, ct), ct);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Contains($"at most {MaxValues}", job.Error, StringComparison.Ordinal);
        Assert.Null(job.BatchId);
    }

    [Fact]
    public async Task RequestBodiesAndDataFilesAreBounded()
    {
        var ct = TestTimeout.After(60);

        using var body = new StringContent(new string(' ', 8192) + "{}", System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await _http.PostAsync("v1/jobs", body, ct)).StatusCode);
        using var file = new ByteArrayContent(new byte[2048]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await _http.PostAsync("v1/datasets?name=big", file, ct)).StatusCode);
        using var small = new ByteArrayContent("x,y\n1,2\n"u8.ToArray());
        Assert.Equal(HttpStatusCode.Created, (await _http.PostAsync("v1/datasets?name=small", small, ct)).StatusCode);
    }
}
