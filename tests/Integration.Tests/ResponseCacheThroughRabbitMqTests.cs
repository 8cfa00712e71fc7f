using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The response cache end to end: registered through the SDK, jobs through a real RabbitMQ broker to a separate
/// worker process, the mark read back over HTTP.</summary>
public sealed class ResponseCacheThroughRabbitMqTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task ARepeatedJobOfAVersionRegisteredWithTheCacheIsAnsweredFromItAndSaysSo()
    {
        var ct = TestTimeout.After(120);
        var (_, onnx) = TestModels.Classifier(seed: 21);
        var name = TestModels.UniqueName("cache");
        var registered = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 2, ResponseCache = true }, cancellationToken: ct);
        Assert.True(registered.Batching?.ResponseCache);
        var metadata = await _http.GetFromJsonAsync<JsonObject>($"v2/models/{name}", ct);
        Assert.True(metadata!["parameters"]!["response_cache"]!.GetValue<bool>());

        float[] features = [0.25f, 1.5f, -2f, 3f];
        var first = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = features }, ct);
        var repeat = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = features }, ct);

        Assert.False(first.Job.Cached);
        Assert.True(repeat.Job.Cached);
        Assert.Null(repeat.Job.BatchId);
        Assert.Equal(first.Outputs.Keys, repeat.Outputs.Keys);
        foreach (var (output, tensor) in first.Outputs)
        {
            Assert.Equal(tensor.ToFloats(), repeat.Outputs[output].ToFloats());
        }

        Assert.True((await system.Client.GetOutputAsync(repeat.Job.Id, ct)).Cached);
    }
}
