using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.Server;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The Open Inference Protocol (KServe v2) through a real Kestrel server, the real broker and a worker process: health,
/// server and model metadata compared with what ONNX Runtime reads from the file, infer compared with ONNX Runtime run
/// directly, requested outputs, bad requests, the 202 answer past the wait limit, and unknown models.
/// </summary>
public sealed class OpenInferenceProtocolTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task HealthAndServerMetadataAnswerInTheProtocolsForm()
    {
        var ct = TestTimeout.After(60);
        Assert.True((await GetJsonAsync("v2/health/live", HttpStatusCode.OK, ct))["live"]!.GetValue<bool>());
        Assert.True((await GetJsonAsync("v2/health/ready", HttpStatusCode.OK, ct))["ready"]!.GetValue<bool>());
        foreach (var path in new[] { "v2", "v2/" })
        {
            var server = await GetJsonAsync(path, HttpStatusCode.OK, ct);
            Assert.Equal("aiaas-queue", server["name"]!.GetValue<string>());
            Assert.False(string.IsNullOrEmpty(server["version"]!.GetValue<string>()));
            Assert.Equal(InferenceApi.Extensions, server["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task ModelMetadataMatchesWhatOnnxRuntimeReadsFromTheFile()
    {
        var ct = TestTimeout.After(60);
        var (_, onnx) = TestModels.Classifier(seed: 61);
        var name = TestModels.UniqueName("oip-meta");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        await system.Client.RegisterModelAsync(name, new MemoryStream(TwoOutputModel.Onnx),
            new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);

        foreach (var (path, file) in new[] { ($"v2/models/{name}/versions/1", onnx), ($"v2/models/{name}", TwoOutputModel.Onnx), ($"v2/models/{name}/versions/2", TwoOutputModel.Onnx) })
        {
            var metadata = await GetJsonAsync(path, HttpStatusCode.OK, ct);
            Assert.Equal(name, metadata["name"]!.GetValue<string>());
            Assert.Equal(["1", "2"], metadata["versions"]!.AsArray().Select(v => v!.GetValue<string>()));
            Assert.Equal("onnxruntime_onnx", metadata["platform"]!.GetValue<string>());

            using var session = new InferenceSession(file);
            AssertTensors(session.InputNames, session.InputMetadata, metadata["inputs"]!.AsArray());
            AssertTensors(session.OutputNames, session.OutputMetadata, metadata["outputs"]!.AsArray());
            Assert.Equal("Dynamic", metadata["parameters"]!["batch_mode"]!.GetValue<string>());
        }

        var second = await GetJsonAsync($"v2/models/{name}/versions/2", HttpStatusCode.OK, ct);
        Assert.Equal(8, second["parameters"]!["max_batch_size"]!.GetValue<int>());
        Assert.Equal(20, second["parameters"]!["max_queue_delay_ms"]!.GetValue<double>());

        var ready = await GetJsonAsync($"v2/models/{name}/ready", HttpStatusCode.OK, ct);
        Assert.Equal((name, true), (ready["name"]!.GetValue<string>(), ready["ready"]!.GetValue<bool>()));
        Assert.True((await GetJsonAsync($"v2/models/{name}/versions/1/ready", HttpStatusCode.OK, ct))["ready"]!.GetValue<bool>());

        static void AssertTensors(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> expected, JsonArray actual)
        {
            Assert.Equal(names, actual.Select(t => t!["name"]!.GetValue<string>()));
            foreach (var tensor in actual)
            {
                var meta = expected[tensor!["name"]!.GetValue<string>()];
                Assert.Equal(Onnx.OnnxTypes.Datatype(meta.ElementDataType), tensor["datatype"]!.GetValue<string>());
                Assert.Equal(meta.Dimensions.Select(d => d < 0 ? -1L : d), tensor["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
            }
        }
    }

    [Fact]
    public async Task UnknownModelsAndVersionsAnswer404WithTheProtocolsErrorObject()
    {
        var ct = TestTimeout.After(60);
        var name = TestModels.UniqueName("oip-known");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 62).Onnx), cancellationToken: ct);
        var request = InferRequest(TestModels.Classifier(seed: 62).Model, [[1f, 2f, 3f, 4f]]);
        foreach (var path in new[] { "v2/models/no-such-model", $"v2/models/{name}/versions/2", $"v2/models/{name}/versions/latest",
            "v2/models/no-such-model/ready", $"v2/models/{name}/versions/9/ready" })
        {
            Assert.Contains("No model", (await GetJsonAsync(path, HttpStatusCode.NotFound, ct))["error"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        foreach (var path in new[] { "v2/models/no-such-model/infer", $"v2/models/{name}/versions/3/infer" })
        {
            using var response = await _http.PostAsJsonAsync(path, request, ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("No model", await ErrorAsync(response, ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task InferAnswersWhatOnnxRuntimeComputesOnTheSameInput()
    {
        var ct = TestTimeout.After(90);
        var (mlp, onnx) = TestModels.Classifier(seed: 63);
        var name = TestModels.UniqueName("oip-infer");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), new BatchingSettings { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 5 },
            cancellationToken: ct);
        var random = new Random(63);
        float[][] rows = [TestModels.RandomRecord(random), TestModels.RandomRecord(random), TestModels.RandomRecord(random)];
        var expected = RunDirectly(onnx, mlp.InputName, rows)[mlp.OutputName];

        // Flat data on the latest version; nested (row-major) data on an explicit version: both are the protocol's forms.
        var flat = new JsonObject
        {
            ["id"] = "request-42",
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = mlp.InputName, ["datatype"] = "FP32", ["shape"] = new JsonArray(3, 4),
                ["data"] = new JsonArray([.. rows.SelectMany(r => r).Select(v => (JsonNode)v)]),
            }),
        };
        var nested = InferRequest(mlp, rows);
        foreach (var (path, request) in new[] { ($"v2/models/{name}/infer", (JsonNode)flat), ($"v2/models/{name}/versions/1/infer", nested) })
        {
            using var response = await _http.PostAsJsonAsync(path, request, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            Assert.Equal(name, body["model_name"]!.GetValue<string>());
            Assert.Equal("1", body["model_version"]!.GetValue<string>());
            var jobId = Guid.Parse(body["parameters"]!["job_id"]!.GetValue<string>());
            Assert.Equal(request["id"]?.GetValue<string>() ?? jobId.ToString(), body["id"]!.GetValue<string>());

            var output = Assert.Single(body["outputs"]!.AsArray())!;
            Assert.Equal((mlp.OutputName, "FP32"), (output["name"]!.GetValue<string>(), output["datatype"]!.GetValue<string>()));
            Assert.Equal([3L, 3L], output["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
            AssertClose(expected, output["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());

            // It was a job like any other, on the queue, and reads so over /v1.
            var job = await system.Client.GetJobAsync(jobId, ct);
            Assert.Equal((JobStatus.Succeeded, name, 1), (job!.Status, job.Model, job.ModelVersion));
        }
    }

    [Fact]
    public async Task RequestedOutputsLimitWhatIsReturned()
    {
        var ct = TestTimeout.After(90);
        var name = TestModels.UniqueName("oip-outs");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TwoOutputModel.Onnx), cancellationToken: ct);
        float[][] rows = [[1f, -2f, 3f, -4f], [-0.5f, 0.25f, 0f, 8f]];
        var expected = RunDirectly(TwoOutputModel.Onnx, TwoOutputModel.Input, rows);

        foreach (var asked in new[] { null, new[] { TwoOutputModel.Negated }, new[] { TwoOutputModel.Rectified }, new[] { TwoOutputModel.Negated, TwoOutputModel.Rectified } })
        {
            var request = InferRequest(TwoOutputModel.Input, rows);
            if (asked is not null)
            {
                request["outputs"] = new JsonArray([.. asked.Select(n => (JsonNode)new JsonObject { ["name"] = n })]);
            }

            using var response = await _http.PostAsJsonAsync($"v2/models/{name}/infer", request, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var outputs = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["outputs"]!.AsArray();
            var names = outputs.Select(o => o!["name"]!.GetValue<string>()).ToArray();
            Assert.Equal((asked ?? [TwoOutputModel.Rectified, TwoOutputModel.Negated]).Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
            foreach (var output in outputs)
            {
                Assert.Equal([2L, 4L], output!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
                AssertClose(expected[output["name"]!.GetValue<string>()], output["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());
            }
        }

        var unknown = InferRequest(TwoOutputModel.Input, rows);
        unknown["outputs"] = new JsonArray(new JsonObject { ["name"] = "nope" });
        using var refused = await _http.PostAsJsonAsync($"v2/models/{name}/infer", unknown, ct);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("no output 'nope'", await ErrorAsync(refused, ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadRequestAnswers400WithItsReasonAndTheWorkerGoesOn()
    {
        var ct = TestTimeout.After(90);
        var (mlp, onnx) = TestModels.Classifier(seed: 64);
        var name = TestModels.UniqueName("oip-bad");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        var path = $"v2/models/{name}/infer";

        // Refused by the worker, which checks each request against the model: the job fails with a reason.
        var wrongType = InferRequest(mlp, [[1f, 2f, 3f, 4f]]);
        wrongType["inputs"]![0]!["datatype"] = "INT64";
        wrongType["inputs"]![0]!["data"] = new JsonArray(1, 2, 3, 4);
        Assert.Contains($"Input '{mlp.InputName}' is FP32; the request gives INT64", await PostErrorAsync(path, wrongType, ct), StringComparison.Ordinal);

        var wrongShape = InferRequest(mlp, [[1f, 2f, 3f, 4f]]);
        wrongShape["inputs"]![0]!["shape"] = new JsonArray(1, 5);
        Assert.Contains($"Input '{mlp.InputName}' has shape [1, 5]", await PostErrorAsync(path, wrongShape, ct), StringComparison.Ordinal);

        var tooFewValues = InferRequest(mlp, [[1f, 2f, 3f, 4f]]);
        tooFewValues["inputs"]![0]!["shape"] = new JsonArray(2, 4);
        Assert.Contains($"Input '{mlp.InputName}'", await PostErrorAsync(path, tooFewValues, ct), StringComparison.Ordinal);

        // Refused by the API before anything is queued.
        Assert.Contains("no inputs", await PostErrorAsync(path, new JsonObject { ["inputs"] = new JsonArray() }, ct), StringComparison.Ordinal);
        var noShape = InferRequest(mlp, [[1f, 2f, 3f, 4f]]);
        noShape["inputs"]![0]!.AsObject().Remove("shape");
        Assert.Contains("needs name, datatype, shape and data", await PostErrorAsync(path, noShape, ct), StringComparison.Ordinal);
        using (var notJson = await _http.PostAsync(path, new StringContent("{\"inputs\": [", System.Text.Encoding.UTF8, "application/json"), ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
            Assert.Contains("not an inference request", await ErrorAsync(notJson, ct), StringComparison.Ordinal);
        }

        var badTimeout = InferRequest(mlp, [[1f, 2f, 3f, 4f]]);
        badTimeout["parameters"] = new JsonObject { ["timeout_ms"] = "soon" };
        Assert.Contains("timeout_ms", await PostErrorAsync(path, badTimeout, ct), StringComparison.Ordinal);

        // The worker went on: a good request right after is answered.
        using var good = await _http.PostAsJsonAsync(path, InferRequest(mlp, [[1f, 2f, 3f, 4f]]), ct);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.False(system.Workers[0].HasExited);
    }

    [Fact]
    public async Task PastTheWaitLimitTheAnswerIs202WithTheJobsLocationAndTheJobCompletesLater()
    {
        var ct = TestTimeout.After(90);
        var (mlp, onnx) = TestModels.Classifier(seed: 65);
        var name = TestModels.UniqueName("oip-202");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        var jobId = Guid.CreateVersion7();
        var request = InferRequest(mlp, [[0.5f, -1.25f, 3f, 2f]]);
        request["parameters"] = new JsonObject { ["timeout_ms"] = 0, ["job_id"] = jobId.ToString() };

        using var accepted = await _http.PostAsJsonAsync($"v2/models/{name}/infer", request, ct);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal($"/v1/jobs/{jobId}", accepted.Headers.Location?.OriginalString);
        var view = await accepted.Content.ReadFromJsonAsync<JobView>(WireJson.Options, ct);
        Assert.Equal((jobId, name), (view!.Id, view.Model));
        Assert.NotEqual(JobStatus.Failed, view.Status);

        // The job goes on without the connection, and its Location tells how it ended.
        var completed = await system.Client.WaitForCompletionAsync(jobId, ct);
        Assert.Equal(JobStatus.Succeeded, completed.Status);
        var location = await _http.GetFromJsonAsync<JobView>(accepted.Headers.Location, WireJson.Options, ct);
        Assert.Equal(JobStatus.Succeeded, location!.Status);

        // job_id is the idempotency key: the same request again answers that job's result, and runs nothing new.
        request["parameters"]!["timeout_ms"] = 10_000;
        using var again = await _http.PostAsJsonAsync($"v2/models/{name}/infer", request, ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var body = JsonNode.Parse(await again.Content.ReadAsStringAsync(ct))!;
        Assert.Equal(jobId.ToString(), body["parameters"]!["job_id"]!.GetValue<string>());
        var expected = RunDirectly(onnx, mlp.InputName, [[0.5f, -1.25f, 3f, 2f]])[mlp.OutputName];
        AssertClose(expected, Assert.Single(body["outputs"]!.AsArray())!["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());

        // A job_id of another model's job is refused rather than answered with that job.
        var other = TestModels.UniqueName("oip-202b");
        await system.Client.RegisterModelAsync(other, new MemoryStream(onnx), cancellationToken: ct);
        Assert.Contains("in use", await PostErrorAsync($"v2/models/{other}/infer", request, ct, HttpStatusCode.Conflict), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASecondApiInstanceOnTheSameBrokerAndStoreAnswersFromTheCompletionEventsItHears()
    {
        var ct = TestTimeout.After(90);
        var (mlp, onnx) = TestModels.Classifier(seed: 66);
        var name = TestModels.UniqueName("oip-two");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);

        await using var second = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Transport:RabbitMqUri"] = system.Broker.Uri.ToString(),
            ["Store:Kind"] = "Embedded",
            ["Store:EmbeddedPath"] = system.StorePath,
        });
        await second.StartAsync(ct);
        var waiter = second.Services.GetRequiredService<JobCompletionWaiter>();
        while (!waiter.EventsConnected || !system.ApiServices.GetRequiredService<JobCompletionWaiter>().EventsConnected)
        {
            await Task.Delay(50, ct);
        }

        using var http = new HttpClient { BaseAddress = second.GetAddress() };
        float[][] rows = [[0.5f, -1.25f, 3f, 2f]];
        var expected = RunDirectly(onnx, mlp.InputName, rows)[mlp.OutputName];
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? http : _http).PostAsJsonAsync($"v2/models/{name}/infer", InferRequest(mlp, rows), ct)));
        foreach (var answer in answers)
        {
            using (answer)
            {
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                var output = JsonNode.Parse(await answer.Content.ReadAsStringAsync(ct))!["outputs"]![0]!;
                AssertClose(expected, output["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray());
            }
        }

        await second.StopAsync(ct);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("3601")]
    public async Task AnInferWaitOutsideItsRangeStopsTheServerAtStartUp(string seconds)
    {
        var data = Directory.CreateTempSubdirectory("aiaas-oip-options-");
        try
        {
            await using var server = AiaasServer.Build(new Dictionary<string, string?>
            {
                ["ResultApi:InferWaitSeconds"] = seconds,
                ["ResultApi:HostWorkers"] = "false",
                ["Store:Kind"] = "Embedded",
                ["Store:EmbeddedPath"] = Path.Combine(data.FullName, "aiaas.db"),
            });
            var refused = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => server.StartAsync(TestTimeout.After(30)));
            Assert.Contains("InferWaitSeconds", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    private async Task<JsonNode> GetJsonAsync(string path, HttpStatusCode status, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == status, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private async Task<string> PostErrorAsync(string path, JsonNode request, CancellationToken ct, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        using var response = await _http.PostAsJsonAsync(path, request, ct);
        var error = await ErrorAsync(response, ct);
        Assert.True(response.StatusCode == status, $"POST {path}: {(int)response.StatusCode} {error}");
        return error;
    }

    private static async Task<string> ErrorAsync(HttpResponseMessage response, CancellationToken ct) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["error"]!.GetValue<string>();

    private static JsonObject InferRequest(Onnx.MlpModel mlp, float[][] rows) => InferRequest(mlp.InputName, rows);

    /// <summary>An infer request for one FP32 input of <paramref name="rows"/>, its data nested row by row.</summary>
    private static JsonObject InferRequest(string input, float[][] rows) => new()
    {
        ["inputs"] = new JsonArray(new JsonObject
        {
            ["name"] = input,
            ["datatype"] = "FP32",
            ["shape"] = new JsonArray(rows.Length, rows[0].Length),
            ["data"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonArray([.. r.Select(v => (JsonNode)v)]))]),
        }),
    };

    /// <summary>Every output of the model run by ONNX Runtime in this process on <paramref name="rows"/>, flat.</summary>
    private static Dictionary<string, float[]> RunDirectly(byte[] onnx, string input, float[][] rows)
    {
        using var session = new InferenceSession(onnx);
        using var value = OrtValue.CreateTensorValueFromMemory(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [input], [value], session.OutputNames);
        return session.OutputNames.Select((n, i) => (n, results[i].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(p => p.n, p => p.Item2);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5, $"at {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}

/// <summary>The protocol with keys required: a tenant's key sees and runs only that tenant's models, and its infer jobs carry
/// the proof of its key that the workers check.</summary>
public sealed class OpenInferenceProtocolTenantTests(TenantSystem system) : IClassFixture<TenantSystem>
{
    [Fact]
    public async Task ATenantSeesAndRunsOnlyItsOwnModelsThroughTheProtocol()
    {
        var ct = TestTimeout.After(120);
        var a = await system.CreateTenantAsync("oa", ct);
        var b = await system.CreateTenantAsync("ob", ct);
        var (mlp, onnx) = TestModels.Classifier(seed: 67);
        await a.Client.RegisterModelAsync("iris", new MemoryStream(onnx), cancellationToken: ct);
        var request = new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = mlp.InputName, ["datatype"] = "FP32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray(1, 2, 3, 4),
            }),
        };

        Assert.Equal(HttpStatusCode.OK, (await a.Http.GetAsync("v2/models/iris", ct)).StatusCode);
        using var inferred = await a.Http.PostAsJsonAsync("v2/models/iris/infer", request, ct);
        Assert.Equal(HttpStatusCode.OK, inferred.StatusCode);
        var jobId = Guid.Parse(JsonNode.Parse(await inferred.Content.ReadAsStringAsync(ct))!["parameters"]!["job_id"]!.GetValue<string>());
        Assert.Equal(JobStatus.Succeeded, (await a.Client.GetJobAsync(jobId, ct))!.Status);

        foreach (var path in new[] { "v2/models/iris", "v2/models/iris/versions/1", "v2/models/iris/ready" })
        {
            using var response = await b.Http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using var foreign = await b.Http.PostAsJsonAsync("v2/models/iris/infer", request, ct);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        using var anonymous = system.Http(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("v2/models/iris/infer", request, ct)).StatusCode);
    }
}

/// <summary>
/// A model with two outputs for the requested-outputs tests: float32 <c>x</c> [batch, 4] to <c>relu</c> = max(x, 0) and
/// <c>neg</c> = -x. Written as ONNX protobuf by hand (the project's generated ONNX types are internal to its writer).
/// </summary>
internal static class TwoOutputModel
{
    public const string Input = "x", Rectified = "relu", Negated = "neg";

    public static byte[] Onnx { get; } = Build();

    private static byte[] Build()
    {
        static byte[] Tensor(string name) => Message((1, name), (2, Message((1, Message((1, 1L), (2, Message(
            (1, Message((2, "batch"))),
            (1, Message((1, 4L))))))))));
        static byte[] Node(string op, string output) => Message((1, Input), (2, output), (3, op.ToLowerInvariant()), (4, op));
        var graph = Message((1, Node("Relu", Rectified)), (1, Node("Neg", Negated)), (2, "two-outputs"),
            (11, Tensor(Input)), (12, Tensor(Rectified)), (12, Tensor(Negated)));
        return Message((1, 8L), (2, "AIaaS.Queue tests"), (7, graph), (8, Message((1, ""), (2, 17L))));
    }

    /// <summary>A protobuf message from (field, value) pairs: long as a varint, string and byte[] (a nested message) length-delimited.</summary>
    private static byte[] Message(params (int Field, object Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            foreach (var (field, value) in fields)
            {
                switch (value)
                {
                    case long number:
                        output.WriteTag(field, WireFormat.WireType.Varint);
                        output.WriteInt64(number);
                        break;
                    case string text:
                        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
                        output.WriteString(text);
                        break;
                    case byte[] bytes:
                        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
                        output.WriteBytes(ByteString.CopyFrom(bytes));
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(fields), value, null);
                }
            }
        }

        return buffer.ToArray();
    }
}
