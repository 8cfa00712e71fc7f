using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>A worker process that trains (for the Iris model and its background sample) and explains, on a real broker.</summary>
public sealed class ExplanationSystem : DistributedSystem
{
    private readonly SemaphoreSlim _training = new(1, 1);
    private string? _iris;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Training__WorkDirectory"] = Path.Combine(DataDirectory.FullName, "training"),
    };

    public static string IrisPath => Path.Combine(Repository.Root.FullName, "data", "iris.csv");

    /// <summary>The Iris MLP, trained by a train job once for the tests of the class; its version keeps a training sample.</summary>
    public async Task<string> IrisModelAsync(CancellationToken ct)
    {
        await _training.WaitAsync(ct);
        try
        {
            if (_iris is null)
            {
                var name = TestModels.UniqueName("iris-explain");
                await using var file = File.OpenRead(IrisPath);
                var dataset = await Client.UploadDatasetAsync("iris.csv", file, ct);
                var jobId = await Client.SubmitTrainAsync(new TrainRequest
                {
                    Model = name,
                    Dataset = new TrainingDataset { FileId = dataset.Id },
                    LabelColumn = "species",
                }, ct);
                var job = await Client.WaitForCompletionAsync(jobId, ct);
                Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}");
                _iris = name;
            }

            return _iris;
        }
        finally
        {
            _training.Release();
        }
    }

    public static float[][] IrisFlowers() =>
    [
        .. File.ReadLines(IrisPath).Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',')[..4].Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()),
    ];

    public override async ValueTask DisposeAsync()
    {
        _training.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>
/// Explanations end to end on a real broker and ONNX Runtime: Kernel SHAP attributions of predict jobs (SDK and HTTP) and of
/// bulk files, checked against what they must be (the linear closed form, efficiency), and refused with reasons.
/// </summary>
public sealed class ExplanationTests(ExplanationSystem system) : IClassFixture<ExplanationSystem>
{
    private const double Tolerance = 1e-4;

    [Fact]
    public async Task OnALinearModelAttributionsAreWeightTimesDistanceFromTheBackgroundMean()
    {
        var ct = TestTimeout.After(120);
        float[] w = [1.5f, -2f, 0.25f, 3f, -0.75f, 0.5f];
        var model = new MlpModel([new DenseLayer(w.Length, 1, w, [0.3f], Activation.None)], OutputActivation.None);
        var name = TestModels.UniqueName("linear");
        // An independent background: each feature drawn on its own.
        var random = new Random(3);
        var background = Enumerable.Range(0, 40).Select(_ => TestModels.RandomRecord(random, w.Length)).ToArray();
        string[] features = ["age", "income", "tenure", "balance", "visits", "score"];
        var view = await system.Client.RegisterModelWithBackgroundAsync(name, new MemoryStream(OnnxModelWriter.Write(model)),
            new MemoryStream(Encoding.UTF8.GetBytes(Csv(features, background))), cancellationToken: ct);
        Assert.Equal(features, view.BackgroundFeatures);
        Assert.Equal(40, view.BackgroundRows);

        float[] x = [1f, 2f, -1f, 0.5f, 2f, -3f];
        var result = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = x, Explain = new ExplainOptions() }, ct);

        var explanation = Assert.IsType<Explanation>(result.Explanation);
        Assert.True(explanation.Exact);
        Assert.Equal(62, explanation.Coalitions);
        Assert.Equal(features, explanation.Features);
        var output = Assert.Single(explanation.Outputs);
        Assert.Equal(result.Outputs.Named("output").ToFloats()[0], output.Value, Tolerance);
        for (var i = 0; i < w.Length; i++)
        {
            var mean = background.Average(row => (double)row[i]);
            Assert.Equal(w[i] * (x[i] - mean), output.Attributions[i], Tolerance);
        }
    }

    [Fact]
    public async Task IrisAttributionsAddUpToThePredictionAndThePetalsCarryMoreThanTheSepals()
    {
        var ct = TestTimeout.After(300);
        var name = await system.IrisModelAsync(ct);
        var model = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name);
        Assert.Equal(["sepal_length", "sepal_width", "petal_length", "petal_width"], model.BackgroundFeatures);
        Assert.Equal(100, model.BackgroundRows);

        // Over plain HTTP with "explain": true, as any client would send it.
        using var http = new HttpClient { BaseAddress = system.ApiUrl };
        var flowers = ExplanationSystem.IrisFlowers().Where((_, i) => i % 10 == 0).ToArray();
        var petals = 0.0;
        var sepals = 0.0;
        foreach (var flower in flowers)
        {
            using var submitted = await http.PostAsJsonAsync("v1/jobs", new JsonObject
            {
                ["model"] = name,
                ["features"] = new JsonArray([.. flower.Select(v => JsonValue.Create(v))]),
                ["explain"] = true,
            }, ct);
            submitted.EnsureSuccessStatusCode();
            var jobId = (await submitted.Content.ReadFromJsonAsync<JsonObject>(ct))!["id"]!.GetValue<Guid>();
            var job = await system.Client.WaitForCompletionAsync(jobId, ct);
            Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}");
            var output = await system.Client.GetOutputAsync(jobId, ct);
            var probabilities = output.Outputs.Single(o => o.Name == "output").ToFloats();
            var explanation = Assert.IsType<Explanation>(output.Explanation);

            Assert.True(explanation.Exact);
            Assert.Equal(14, explanation.Coalitions);
            Assert.Equal(["Iris-setosa", "Iris-versicolor", "Iris-virginica"], explanation.Outputs.Select(o => o.Label));
            foreach (var attributed in explanation.Outputs)
            {
                Assert.Equal(probabilities[attributed.Index], attributed.Value, Tolerance);
                Assert.Equal(attributed.Value, attributed.BaseValue + attributed.Attributions.Sum(), Tolerance);
                sepals += Math.Abs(attributed.Attributions[0]) + Math.Abs(attributed.Attributions[1]);
                petals += Math.Abs(attributed.Attributions[2]) + Math.Abs(attributed.Attributions[3]);
            }
        }

        TestContext.Current.SendDiagnosticMessage($"Iris, {flowers.Length} flowers: |attribution| petals {petals:F3}, sepals {sepals:F3}");
        Assert.True(petals > sepals, $"petals {petals}, sepals {sepals}");
    }

    [Fact]
    public async Task ExplanationsAreRefusedWithTheirReasons()
    {
        var ct = TestTimeout.After(120);
        var plain = TestModels.UniqueName("no-background");
        await system.Client.RegisterModelAsync(plain, new MemoryStream(TestModels.Classifier().Onnx), cancellationToken: ct);
        var twoInputs = TestModels.UniqueName("two-inputs");
        await system.Client.RegisterModelAsync(twoInputs, new MemoryStream(OnnxGraphs.IdsAndFeatures()), cancellationToken: ct);
        var linear = TestModels.UniqueName("linear-refusals");
        await system.Client.RegisterModelWithBackgroundAsync(linear, new MemoryStream(TestModels.Classifier().Onnx),
            new MemoryStream(Encoding.UTF8.GetBytes("a,b,c,d\n1,2,3,4\n")), cancellationToken: ct);

        var noBackground = await FailedAsync(new PredictRequest { Model = plain, Features = [1, 2, 3, 4], Explain = new ExplainOptions() }, ct);
        var notTabular = await FailedAsync(new PredictRequest
        {
            Model = twoInputs,
            Inputs = [Tensors.Int64(OnnxGraphs.Ids, [1, 2], [1, 2]), Tensors.Fp32(OnnxGraphs.Features, [1, 3], [1, 2, 3])],
            Explain = new ExplainOptions(),
        }, ct);
        var badSamples = await FailedAsync(new PredictRequest { Model = linear, Features = [1, 2, 3, 4], Explain = new ExplainOptions { Samples = 1 } }, ct);
        var plainJob = await system.Client.PredictAsync(new PredictRequest { Model = plain, Features = [1, 2, 3, 4] }, ct);

        Assert.Contains("no background data", noBackground, StringComparison.Ordinal);
        Assert.Contains("--background", noBackground, StringComparison.Ordinal);
        Assert.Contains("tabular", notTabular, StringComparison.Ordinal);
        Assert.Contains("explain.samples is 1", badSamples, StringComparison.Ordinal);
        Assert.Null(plainJob.Explanation);

        // Over HTTP a malformed explain refuses the request (the framework's 400 for a body it cannot read).
        using var http = new HttpClient { BaseAddress = system.ApiUrl };
        using var malformed = await http.PostAsync("v1/jobs", new StringContent($"{{\"model\": \"{plain}\", \"features\": [1, 2, 3, 4], \"explain\": \"yes\"}}",
            Encoding.UTF8, "application/json"), ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, malformed.StatusCode);

        // A background that does not fit the model is refused at registration, with the reason.
        var refused = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.RegisterModelWithBackgroundAsync(TestModels.UniqueName("misfit"),
            new MemoryStream(TestModels.Classifier().Onnx), new MemoryStream(Encoding.UTF8.GetBytes("a,b\n1,2\n")), cancellationToken: ct));
        Assert.Contains("has 2 features", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABulkExplanationOfAThousandRecordsGivesTheNumbersOfExplainingThemOneAtATime()
    {
        var ct = TestTimeout.After(600);
        var name = await system.IrisModelAsync(ct);
        var iris = ExplanationSystem.IrisFlowers();
        var random = new Random(17);
        // Flowers of the data set, each slightly moved, so that every record differs.
        var records = Enumerable.Range(0, 1000)
            .Select(i => iris[i % iris.Length].Select(v => MathF.Round(v + (float)(random.NextDouble() - 0.5) * 0.2f, 3)).ToArray())
            .ToArray();
        var lines = string.Concat(records.Select((r, i) =>
            $"{{\"id\":\"f{i}\",\"features\":[{string.Join(',', r.Select(v => v.ToString(CultureInfo.InvariantCulture)))}]}}\n"));

        var bulk = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(lines)),
            ChunkSize = 250,
            Explain = new ExplainOptions(),
        }, ct);
        bulk = await system.Client.WaitForBulkAsync(bulk.Id, cancellationToken: ct);
        Assert.True(bulk.Status == BulkJobStatus.Succeeded, $"{bulk.Status}: {bulk.Error}");
        Assert.Equal(1000, bulk.Counts.Succeeded);
        using var output = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(bulk.Id, output, cancellationToken: ct);
        var bulkExplanations = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!)
            .ToDictionary(l => l["id"]!.GetValue<string>(), l => l["explanation"].Deserialize<Explanation>(WireJson.Options)!);

        var jobIds = await system.Client.SubmitPredictManyAsync(records.Select(r => new PredictRequest { Model = name, Features = r, Explain = new ExplainOptions() }), ct);
        var jobs = await system.Client.WaitForAllAsync(jobIds, ct);
        Assert.All(jobs, job => Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}"));
        var single = await system.Client.GetOutputsAsync(jobIds, ct);

        Assert.Equal(1000, bulkExplanations.Count);
        for (var i = 0; i < records.Length; i++)
        {
            var one = single[i]!.Explanation!;
            var fromBulk = bulkExplanations[$"f{i}"];
            Assert.Equal(one.Features, fromBulk.Features);
            foreach (var (a, b) in one.Outputs.Zip(fromBulk.Outputs))
            {
                Assert.Equal(a.Label, b.Label);
                Assert.Equal(a.BaseValue, b.BaseValue, 1e-6);
                Assert.Equal(a.Value, b.Value, 1e-6);
                for (var f = 0; f < a.Attributions.Count; f++)
                {
                    Assert.Equal(a.Attributions[f], b.Attributions[f], 1e-6);
                }
            }
        }
    }

    [Fact]
    public async Task TheCliRegistersABackgroundAndPrintsExplanationsOfPredictionsAndBulkFiles()
    {
        var ct = TestTimeout.After(240);
        var iris = await system.IrisModelAsync(ct);
        var folder = Directory.CreateTempSubdirectory("aiaas-cli-explain-");
        try
        {
            using (var predict = new CliProcess(["predict", "-m", iris, "-f", "6.4,3.2,4.5,1.5", "--explain",
                "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString()]))
            {
                Assert.True(await predict.WaitForExitAsync(ct) == 0, predict.Output);
                TestContext.Current.TestOutputHelper?.WriteLine(predict.Output);
                Assert.Contains("explanation: kernel-shap, exact, 14 coalitions, 100 background rows", predict.Output, StringComparison.Ordinal);
                Assert.Contains("output[Iris-versicolor]: ", predict.Output, StringComparison.Ordinal);
                Assert.Contains("petal_length", predict.Output, StringComparison.Ordinal);
            }

            var (_, onnx) = TestModels.Classifier(seed: 9);
            var modelFile = Path.Combine(folder.FullName, "model.onnx");
            var backgroundFile = Path.Combine(folder.FullName, "background.csv");
            var records = Path.Combine(folder.FullName, "records.csv");
            var scores = Path.Combine(folder.FullName, "scores.jsonl");
            await File.WriteAllBytesAsync(modelFile, onnx, ct);
            var random = new Random(11);
            await File.WriteAllTextAsync(backgroundFile, Csv(["a", "b", "c", "d"], [.. Enumerable.Range(0, 20).Select(_ => TestModels.RandomRecord(random))]), ct);
            await File.WriteAllTextAsync(records, Csv(["a", "b", "c", "d"], [.. Enumerable.Range(0, 30).Select(_ => TestModels.RandomRecord(random))]), ct);
            var name = TestModels.UniqueName("cli-background");
            using (var register = new CliProcess(["models", "register", "--name", name, "--file", modelFile, "--background", backgroundFile,
                "--api", system.ApiUrl.ToString()]))
            {
                Assert.True(await register.WaitForExitAsync(ct) == 0, register.Output);
                Assert.Contains("\"backgroundRows\": 20", register.Output, StringComparison.Ordinal);
            }

            using (var score = new CliProcess(["score", "-m", name, "--input", records, "--output", scores, "--explain", "--api", system.ApiUrl.ToString()]))
            {
                Assert.True(await score.WaitForExitAsync(ct) == 0, score.Output);
            }

            var lines = (await File.ReadAllLinesAsync(scores, ct)).Select(l => JsonNode.Parse(l)!).ToArray();
            Assert.Equal(30, lines.Length);
            Assert.All(lines, line =>
            {
                var explanation = line["explanation"].Deserialize<Explanation>(WireJson.Options)!;
                Assert.Equal(["a", "b", "c", "d"], explanation.Features);
                Assert.All(explanation.Outputs, o => Assert.Equal(o.Value, o.BaseValue + o.Attributions.Sum(), Tolerance));
            });
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task PlainPredictJobsAreServedWhileExplanationsWaitInTheirOwnQueue()
    {
        var ct = TestTimeout.After(300);
        var model = MlpModel.CreateRandom(12, [64, 64], 3, Activation.Relu, OutputActivation.Softmax, seed: 21);
        var name = TestModels.UniqueName("busy");
        var random = new Random(5);
        var header = Enumerable.Range(0, 12).Select(i => $"f{i}").ToArray();
        await system.Client.RegisterModelWithBackgroundAsync(name, new MemoryStream(OnnxModelWriter.Write(model)),
            new MemoryStream(Encoding.UTF8.GetBytes(Csv(header, [.. Enumerable.Range(0, 100).Select(_ => TestModels.RandomRecord(random, 12))]))),
            cancellationToken: ct);

        // Each explanation evaluates about 200,000 rows; the worker runs one at a time (ExplainConcurrency 1).
        var explanations = await system.Client.SubmitPredictManyAsync(Enumerable.Range(0, 12).Select(_ => new PredictRequest
        {
            Model = name, Features = TestModels.RandomRecord(random, 12), Explain = new ExplainOptions { Samples = 2000 },
        }), ct);
        var plain = await system.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 20).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random, 12) }), ct);
        var plainJobs = await system.Client.WaitForAllAsync(plain, ct);
        var explanationStates = await Task.WhenAll(explanations.Select(id => system.Client.GetJobAsync(id, ct)));

        Assert.All(plainJobs, job => Assert.Equal(JobStatus.Succeeded, job.Status));
        Assert.Contains(explanationStates, job => job is null || !IsFinal(job.Status));
        Assert.All(await system.Client.WaitForAllAsync(explanations, ct), job => Assert.True(job.Status == JobStatus.Succeeded, job.Error));
    }

    private static bool IsFinal(JobStatus status) => status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired;

    private async Task<string> FailedAsync(PredictRequest request, CancellationToken ct)
    {
        var jobId = await system.Client.SubmitPredictAsync(request, ct);
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);
        Assert.Equal(JobStatus.Failed, job.Status);
        return job.Error!;
    }

    private static string Csv(string[] header, float[][] rows) =>
        string.Join(',', header) + "\n" + string.Concat(rows.Select(r => string.Join(',', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n"));
}
