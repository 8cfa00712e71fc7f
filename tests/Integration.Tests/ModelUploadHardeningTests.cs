using System.Net;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi;
using AIaaS.Queue.Server;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Findings of the adversarial review (issue 13) about model uploads and the predict path: what a model may allocate when it
/// loads, external data, names, sizes, server paths in messages, and jobs that must end whatever throws.
/// </summary>
public sealed class ModelUploadHardeningTests : IAsyncLifetime
{
    private const long MaxModelBytes = 32L << 20;
    private const long MaxFoldedBytes = 1L << 20;
    private const int MaxVocabularyBytes = 1 << 20;
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-upload-hardening-");
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
            ["Workers:MaxFoldedConstantBytes"] = $"{MaxFoldedBytes}",
            ["ResultApi:MaxFoldedConstantBytes"] = $"{MaxFoldedBytes}",
            ["ResultApi:MaxModelBytes"] = $"{MaxModelBytes}",
            ["ResultApi:MaxVocabularyBytes"] = $"{MaxVocabularyBytes}",
        }, builder =>
        {
            builder.Services.AddAiaasClient(_ => { });
            builder.Services.AddOptions<AiaasClientOptions>().PostConfigure<IServer>((options, server) => options.ApiUrl = server.GetAddress());
        });
        await _app.StartAsync(TestTimeout.After(30));
        _http = new HttpClient { BaseAddress = _app.GetAddress() };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Delete(recursive: true);
    }

    private async Task<(HttpStatusCode Status, string Body)> PutAsync(string nameAndQuery, byte[] onnx)
    {
        var ct = TestTimeout.After(60);
        using var response = await _http.PutAsync($"v1/models/{nameAndQuery}", new ByteArrayContent(onnx), ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }

    /// <summary>Stores a version as a path other than the upload would (training, an older API), so the workers' own checks are what stands.</summary>
    private async Task StoreDirectlyAsync(string name, byte[] onnx, BatchingSettings? batching = null)
    {
        var signature = OnnxModelInspector.Inspect(OnnxGraphs.Identity(TensorElementType.Float, ["batch", 1]));
        await _app.Services.GetRequiredService<IModelStore>().AddVersionAsync(new NewModelVersion
        {
            Name = name, Inputs = signature.Inputs, Outputs = signature.Outputs, Batching = batching,
        }, new MemoryStream(onnx), TestTimeout.After(30));
    }

    // Finding 2: folding at the workers' optimization level is bounded, at upload and when a worker loads a stored model.
    [Fact]
    public async Task AModelWhoseConstantsWouldFoldPastTheLimitIsRefusedAtUploadAndByTheWorkers()
    {
        var onnx = OnnxGraphs.FoldsIntoAHugeConstant(1_000_000); // 4 MB once folded; the limit here is 1 MiB.
        var (status, body) = await PutAsync(TestModels.UniqueName("folds"), onnx);
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.Contains("fold its constants", body, StringComparison.Ordinal);

        var name = TestModels.UniqueName("folds-stored");
        await StoreDirectlyAsync(name, onnx);
        var job = await PredictAsync(name);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Contains("fold its constants", job.Error, StringComparison.Ordinal);
    }

    // Finding 4: NaN and infinities are not a delay; an input no request could fit is not a model.
    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    public async Task AQueueDelayThatIsNotAFiniteNumberIsRefused(string delay)
    {
        var name = TestModels.UniqueName("delay");
        var (status, body) = await PutAsync($"{name}?maxQueueDelayMs={delay}", OnnxGraphs.Identity(TensorElementType.Float, ["batch", 1]));
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.Contains("maxQueueDelayMs 0-60000", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AModelWhoseInputNoRequestCouldFitIsRefused()
    {
        var (status, body) = await PutAsync(TestModels.UniqueName("huge-input"), OnnxGraphs.Identity(TensorElementType.Float, ["batch", 65536, 65536]));
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.Contains("no request could be served", body, StringComparison.Ordinal);
    }

    // Finding 4, the rule: whatever throws in the predict path, the job ends Failed with a reason and never stays Queued.
    [Fact]
    public async Task AnyExceptionInThePredictPathEndsTheJobFailedWithAReason()
    {
        var nan = TestModels.UniqueName("nan-delay");
        await StoreDirectlyAsync(nan, OnnxGraphs.Identity(TensorElementType.Float, ["batch", 1]), new BatchingSettings { MaxQueueDelayMilliseconds = double.NaN });
        var job = await PredictAsync(nan);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Contains("could not run the job", job.Error, StringComparison.Ordinal);

        var huge = TestModels.UniqueName("huge-stored");
        await StoreDirectlyAsync(huge, OnnxGraphs.Identity(TensorElementType.Float, ["batch", 65536, 65536]));
        job = await PredictAsync(huge);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.False(string.IsNullOrEmpty(job.Error));
    }

    private async Task<JobView> PredictAsync(string model)
    {
        // Bounded well below the retry schedule: the job must end at once, not after its message went to the error queue.
        var ct = TestTimeout.After(20);
        return await Client.WaitForCompletionAsync(await Client.SubmitPredictAsync(new PredictRequest { Model = model, Features = [1f] }, ct), ct);
    }

    // Finding 9.
    [Fact]
    public async Task ANameWithATrailingNewlineIsRefusedWith400AndNothingIsStored()
    {
        var (status, body) = await PutAsync("m%0A", OnnxGraphs.Identity(TensorElementType.Float, ["batch", 1]));
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.Empty(await _app.Services.GetRequiredService<IModelStore>().ListAsync("m\n", TestTimeout.After(10)));
        Assert.False(Tenants.IsValidModelName("m\n"));
        Assert.False(Tenants.IsValidTenantId("zz\n"));
        Assert.True(Tenants.IsValidTenantId("zz"));
    }

    // Finding 10.
    [Fact]
    public async Task AModelWithExternalDataIsRefused()
    {
        var (status, body) = await PutAsync(TestModels.UniqueName("external"), OnnxGraphs.WeightInExternalData("weights.bin"));
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.Contains("external data", body, StringComparison.Ordinal);
    }

    // Finding 11.
    [Fact]
    public async Task UploadErrorsNameNoServerPath()
    {
        var (status, body) = await PutAsync(TestModels.UniqueName("garbage"), "not a model at all"u8.ToArray());
        Assert.True(status == HttpStatusCode.BadRequest, body);
        Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/'), body, StringComparison.Ordinal);
        Assert.DoesNotContain("aiaas-upload-", body, StringComparison.Ordinal);
    }

    // Finding 13.
    [Fact]
    public async Task AModelOverTheSizeLimitGets413()
    {
        // Expect: 100-continue, so that the client reads the refusal instead of writing on into a closed connection.
        var ct = TestTimeout.After(60);
        using var request = new HttpRequestMessage(HttpMethod.Put, $"v1/models/{TestModels.UniqueName("too-big")}")
        {
            Content = new ByteArrayContent(new byte[MaxModelBytes + 1]),
        };
        request.Headers.ExpectContinue = true;
        using var response = await _http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{response.StatusCode}: {body}");
        Assert.Contains($"larger than the {MaxModelBytes} bytes allowed", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMultipartModelOrVocabularyOverItsLimitGets413AndNothingIsStored()
    {
        var ct = TestTimeout.After(60);
        var name = TestModels.UniqueName("too-big-parts");
        async Task<(HttpStatusCode Status, string Body)> Upload(byte[] model, string? vocabulary)
        {
            using var form = new MultipartFormDataContent { { new ByteArrayContent(model), "model", "model.onnx" } };
            if (vocabulary is not null)
            {
                form.Add(new StringContent("""{"kind": "text-embedding"}"""), "recipe");
                form.Add(new StringContent(vocabulary), "vocab", "vocab.txt");
            }

            using var response = await _http.PutAsync($"v1/models/{name}", form, ct);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }

        var (status, body) = await Upload(new byte[MaxModelBytes + 1], null);
        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{status}: {body}");
        Assert.Contains($"larger than the {MaxModelBytes} bytes allowed", body, StringComparison.Ordinal);

        (status, body) = await Upload(TestModels.Classifier(seed: 13).Onnx, new string('a', MaxVocabularyBytes + 1));
        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{status}: {body}");
        Assert.Contains($"The 'vocab' part is larger than the {MaxVocabularyBytes} bytes allowed", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"v1/models/{name}", ct)).StatusCode);
    }
}
