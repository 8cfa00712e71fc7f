using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi.Apis;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Registration with padding and limits (<c>PUT /v1/models/{name}?pad=...&amp;maxShape=...&amp;groupByLength=...</c>, the SDK,
/// the CLI): settings that do not fit the file's signature are refused with the reason and store nothing; settings that fit
/// are kept, shown, and applied by the workers.
/// </summary>
public sealed class ModelRegistrationTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task AVersionsFileDownloadsByteForByteWithItsSha256AsTheETag()
    {
        var ct = TestTimeout.After(30);
        var (_, onnx) = TestModels.Classifier(seed: 81);
        var name = TestModels.UniqueName("download");
        var registered = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);

        using var response = await _http.GetAsync($"/v1/models/{name}/versions/latest/file", ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/v1/models/{name}/versions/1/file");
        again.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue($"\"{registered.Sha256}\""));
        using var unchanged = await _http.SendAsync(again, ct);
        using var unknown = await _http.GetAsync($"/v1/models/{name}/versions/2/file", ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(onnx, bytes);
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx))}\"", response.Headers.ETag?.Tag);
        Assert.Equal($"{name}-v1.onnx", response.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    public static TheoryData<string, string> Misfits() => new()
    {
        { "pad=nope:1", "The model has no input 'nope'; its inputs are {input}." },
        { "pad={input}:0", "cannot be padded on axis 0: that is the batch axis" },
        { "pad={input}:1", "cannot be padded on axis 1: the model fixes it at 4" },
        { "pad={input}:2", "has no axis 2 to pad" },
        { "pad={input}", "is not input:axis[=value]" },
        { "pad={input}:1=abc", "not a finite number" },
        { "pad={input}:1=1%2C{input}:1=2", "two pad values" },
        { "maxShape={input}:-1", "has 1 axes; the input has 2" },
        { "maxShape={input}:-1x5", "has 5 on axis 1, which the model fixes at 4" },
        { "maxShape={input}:-1x0", "each -1 (no bound) or above 0" },
        { "maxShape={input}:8x4&maxShape={input}:9x4", "names input '{input}' twice" },
        { "groupByLength=maybe", "" },
    };

    [Theory]
    [MemberData(nameof(Misfits))]
    public async Task SettingsThatDoNotFitTheModelAreRefusedWithTheReasonAndNothingIsStored(string query, string reason)
    {
        var ct = TestTimeout.After(60);
        var (mlp, onnx) = TestModels.Classifier(seed: 71);
        var name = TestModels.UniqueName("reg-bad");
        using var response = await _http.PutAsync($"v1/models/{name}?{query.Replace("{input}", mlp.InputName, StringComparison.Ordinal)}",
            new ByteArrayContent(onnx), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Contains(reason.Replace("{input}", mlp.InputName, StringComparison.Ordinal), body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"v1/models/{name}", ct)).StatusCode);
    }

    [Fact]
    public async Task SettingsThatFitAreKeptShownWithTheBatchModeAndAppliedByTheWorkers()
    {
        var ct = TestTimeout.After(90);
        var (mlp, onnx) = TestModels.Classifier(seed: 72);
        var name = TestModels.UniqueName("reg-ok");

        // Over HTTP, as curl would send it.
        using var created = await _http.PutAsync($"v1/models/{name}?maxBatchSize=8&maxShape={mlp.InputName}:16x4&groupByLength=false",
            new ByteArrayContent(onnx), ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var view = (await created.Content.ReadFromJsonAsync<ModelView>(WireJson.Options, ct))!;
        Assert.Equal(BatchMode.Dynamic, view.BatchMode);
        Assert.Equal([16L, 4L], view.Batching!.Inputs![mlp.InputName].MaxShape);
        Assert.False(view.Batching.GroupByLength);
        var read = (await _http.GetFromJsonAsync<ModelView>($"v1/models/{name}/versions/1", WireJson.Options, ct))!;
        Assert.Equal((BatchMode.Dynamic, 8, false), (read.BatchMode, read.Batching!.MaxBatchSize, read.Batching.GroupByLength));
        Assert.Equal([16L, 4L], read.Batching.Inputs![mlp.InputName].MaxShape);
        var metadata = JsonNode.Parse(await _http.GetStringAsync($"v2/models/{name}", ct))!["parameters"]!;
        Assert.Equal($"{mlp.InputName}:16x4", metadata["max_shape"]!.GetValue<string>());

        // Through the SDK: a bound of 2 rows per request, which the worker then applies.
        var limited = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), new BatchingSettings
        {
            Inputs = new Dictionary<string, InputBatching> { [mlp.InputName] = new() { MaxShape = [2, -1] } },
            GroupByLength = false,
        }, cancellationToken: ct);
        Assert.Equal((2, BatchMode.Dynamic, false), (limited.Version, limited.BatchMode, limited.Batching!.GroupByLength));
        Assert.Equal([2L, -1L], limited.Batching.Inputs![mlp.InputName].MaxShape);
        var ok = await system.Client.PredictAsync(new PredictRequest
        {
            Model = name, ModelVersion = 2, Inputs = [Tensors.Fp32(mlp.InputName, [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])],
        }, ct);
        Assert.Equal([2L, 3L], ok.Outputs[mlp.OutputName].Shape);
        var failed = await Assert.ThrowsAsync<JobFailedException>(() => system.Client.PredictAsync(new PredictRequest
        {
            Model = name, ModelVersion = 2, Inputs = [Tensors.Fp32(mlp.InputName, [3, 4], new float[12])],
        }, ct));
        Assert.Contains("is 3, above its maximum of 2", failed.Job.Error, StringComparison.Ordinal);

        // The SDK's settings that do not fit are refused as over HTTP.
        var refused = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { Inputs = new Dictionary<string, InputBatching> { [mlp.InputName] = new() { PadAxes = [1] } } }, cancellationToken: ct));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("fixes it at 4", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCliRegistersWithItsBatchingOptionsAndPredictsFromTensorsAndFromARequestFile()
    {
        var ct = TestTimeout.After(120);
        var (mlp, onnx) = TestModels.Classifier(seed: 73);
        var name = TestModels.UniqueName("reg-cli");
        var folder = Directory.CreateTempSubdirectory("aiaas-cli-");
        try
        {
            var file = Path.Combine(folder.FullName, "model.onnx");
            await File.WriteAllBytesAsync(file, onnx, ct);
            Assert.Equal(0, await CliAsync(["models", "register", "--name", name, "--file", file, "--max-shape", $"{mlp.InputName}:8x4", "--no-group-by-length"], ct));
            var registered = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name);
            Assert.Equal([8L, 4L], registered.Batching!.Inputs![mlp.InputName].MaxShape);
            Assert.False(registered.Batching.GroupByLength);

            Assert.NotEqual(0, await CliAsync(["models", "register", "--name", name, "--file", file, "--pad", $"{mlp.InputName}:1"], ct));
            Assert.Equal(2, await CliAsync(["models", "register", "--name", name, "--file", file, "--pad", "no-axis"], ct));

            var before = (await system.Client.ListJobsAsync(model: name, cancellationToken: ct)).Items.Count;
            Assert.Equal(0, await CliAsync(["predict", "-m", name, "--input", $"{mlp.InputName}:FP32:2x4:[[1,2,3,4],[5,6,7,8]]"], ct));
            var request = Path.Combine(folder.FullName, "request.json");
            await File.WriteAllTextAsync(request, new JsonObject
            {
                ["id"] = "from-a-file",
                ["inputs"] = new JsonArray(new JsonObject
                {
                    ["name"] = mlp.InputName, ["datatype"] = "FP32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray(1, 2, 3, 4),
                }),
                ["outputs"] = new JsonArray(new JsonObject { ["name"] = mlp.OutputName }),
            }.ToJsonString(), ct);
            Assert.Equal(0, await CliAsync(["predict", "-m", $"{name}:1", "--inputs-file", request], ct));
            var jobs = (await system.Client.ListJobsAsync(model: name, cancellationToken: ct)).Items;
            Assert.Equal(before + 2, jobs.Count);
            Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
            Assert.Equal([2L, 3L], (await system.Client.GetOutputAsync(jobs[^1].Id, ct)).Outputs.Named(mlp.OutputName).Shape);

            Assert.Equal(2, await CliAsync(["predict", "-m", name, "--input", $"{mlp.InputName}:FLOAT:1x4:[1,2,3,4]"], ct));
            Assert.Equal(2, await CliAsync(["predict", "-m", name, "-f", "1,2,3,4", "--inputs-file", request], ct));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void PaddingRulesFollowEachInputsDatatypeAndTheModelsBatchMode()
    {
        static ModelSignature Model(params TensorSpec[] inputs) =>
            new(inputs, [new TensorSpec { Name = "out", ElementType = "float32", Datatype = "FP32", Shape = [-1, -1, 8] }]);
        static TensorSpec Input(string name, string datatype, params int[] shape) =>
            new() { Name = name, ElementType = datatype.ToLowerInvariant(), Datatype = datatype, Shape = shape };
        static string? Check(ModelSignature model, string pad, string maxShape = "")
        {
            var (inputs, problem) = InputBatchingSyntax.Parse([pad], [maxShape]);
            Assert.Null(problem);
            return ModelRegistrationRules.BatchingProblem(model, new BatchingSettings { Inputs = inputs });
        }

        var text = Model(Input("input_ids", "INT64", -1, -1), Input("attention_mask", "INT64", -1, -1), Input("flags", "BOOL", -1, -1),
            Input("words", "BYTES", -1, -1), Input("pixels", "FP32", -1, 3, -1, -1));
        Assert.Equal(BatchMode.Dynamic, text.BatchMode);
        Assert.Null(Check(text, "input_ids:1,attention_mask:1,flags:1=1,words:1,pixels:2,pixels:3=-0.5", "input_ids:-1x256,pixels:-1x3x64x64"));
        Assert.Contains("batch axis", Check(text, "input_ids:0"), StringComparison.Ordinal);
        Assert.Contains("fixes it at 3", Check(text, "pixels:1"), StringComparison.Ordinal);
        Assert.Contains("must be an integer from", Check(text, "input_ids:1=0.5"), StringComparison.Ordinal);
        Assert.Contains("0 (false) or 1 (true)", Check(text, "flags:1=2"), StringComparison.Ordinal);
        Assert.Contains("give no pad value", Check(text, "words:1=1"), StringComparison.Ordinal);

        // A batch of one, and no batch dimension: axis 0 is no batch axis to protect, and may be padded where dynamic.
        var single = Model(Input("x", "FP32", 1, -1));
        Assert.Equal(BatchMode.FixedOne, single.BatchMode);
        Assert.Null(Check(single, "x:1"));
        Assert.Contains("fixes it at 1", Check(single, "x:0"), StringComparison.Ordinal);
        var unbatched = Model(Input("x", "FP32", -1), Input("y", "FP32", 3));
        Assert.Equal(BatchMode.None, unbatched.BatchMode);
        Assert.Null(Check(unbatched, "x:0"));

        // The text form reads back as written.
        var (parsed, none) = InputBatchingSyntax.Parse(["input_ids:1=0,attention_mask:1", "input_ids:2"], ["input_ids:-1x256x4"]);
        Assert.Null(none);
        Assert.Equal("input_ids:1,input_ids:2,attention_mask:1", InputBatchingSyntax.FormatPad(parsed));
        Assert.Equal("input_ids:-1x256x4", InputBatchingSyntax.FormatMaxShape(parsed));
        Assert.Equal("x:1=-0.5", InputBatchingSyntax.FormatPad(InputBatchingSyntax.Parse(["x:1=-0.5"], []).Inputs));
    }

    private Task<int> CliAsync(string[] arguments, CancellationToken ct) =>
        Cli.CliApp.Build().Parse([.. arguments, "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString()]).InvokeAsync(cancellationToken: ct);
}
