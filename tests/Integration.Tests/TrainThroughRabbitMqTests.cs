using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Train jobs from the SDK through a real RabbitMQ broker to a worker process, which trains in a TorchSharp child
/// process (through the compatibility launcher where the host needs it), registers the ONNX model and serves it.
/// </summary>
public sealed class TrainThroughRabbitMqTests(TrainingSystem system) : IClassFixture<TrainingSystem>
{
    private static readonly string[] IrisColumns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"];

    private static string IrisPath => Path.Combine(Repository.Root.FullName, "data", "iris.csv");

    [Fact]
    public async Task TrainingOnIrisReachesNinetyPercentValidationAccuracyAndTheNewVersionServesPredictJobs()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("iris");
        await using var file = File.OpenRead(IrisPath);
        var dataset = await system.Client.UploadDatasetAsync("iris.csv", file, ct);
        Assert.Equal(new FileInfo(IrisPath).Length, dataset.SizeBytes);

        var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = new TrainingDataset { FileId = dataset.Id },
            LabelColumn = "species",
        }, ct);
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);

        Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}");
        Assert.Equal(JobKind.Train, job.Kind);
        Assert.Equal("cpu", job.Device);
        Assert.Equal(1, job.ModelVersion);

        var events = await system.Client.GetJobEventsAsync(jobId, cancellationToken: ct);
        Assert.Equal(["queued", "started"], events.Select(e => e.Type).Where(t => t is "queued" or "started"));
        var epochs = events.Where(e => e.Type == "epoch").ToList();
        Assert.NotEmpty(epochs);
        Assert.Equal(Enumerable.Range(1, epochs.Count), epochs.Select(e => e.Epoch!.Value));
        Assert.All(epochs, e => Assert.True(e.TrainLoss > 0 && e.ValidationLoss > 0 && e.ValidationAccuracy is >= 0 and <= 1 && e.LearningRate > 0));
        Assert.Equal("succeeded", events[^1].Type);

        var model = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name);
        var training = Assert.IsType<ModelTrainingInfo>(model.Training);
        Assert.Equal(jobId, training.TrainingJobId);
        Assert.StartsWith("sha256:" + dataset.Sha256, training.DatasetFingerprint, StringComparison.Ordinal);
        Assert.Equal(["Iris-setosa", "Iris-versicolor", "Iris-virginica"], training.ClassLabels);
        Assert.True(training.Metrics["val_accuracy"] >= 0.9, $"val accuracy {training.Metrics["val_accuracy"]}");
        Assert.InRange(training.Metrics["onnx_max_abs_diff"], 0, 1e-4);
        TestContext.Current.SendDiagnosticMessage(
            $"Iris MLP on CPU: {training.Metrics["epochs_per_second"]:F0} epochs/s, {training.Metrics["epochs_run"]} epochs, "
            + $"val accuracy {training.Metrics["val_accuracy"]:F3}, ONNX-vs-TorchSharp max diff {training.Metrics["onnx_max_abs_diff"]:G3}");

        // Raw (unstandardised) features: the scaler lives in the ONNX graph.
        (float[] Features, int Class)[] flowers =
        [
            ([5.1f, 3.5f, 1.4f, 0.2f], 0),
            ([6.4f, 3.2f, 4.5f, 1.5f], 1),
            ([7.7f, 3.0f, 6.1f, 2.3f], 2),
        ];
        foreach (var (features, expected) in flowers)
        {
            var result = await system.Client.PredictAsync(new PredictRequest { Model = name, Features = features }, ct);
            Assert.Equal(1, result.Job.ModelVersion);
            var probabilities = result.Outputs.Named("output").ToFloats();
            Assert.Equal(expected, Array.IndexOf(probabilities, probabilities.Max()));
            // The class's name beside its probabilities, from the version's training metadata.
            var label = result.Outputs.Named("label");
            Assert.Equal("BYTES", label.Datatype);
            Assert.Equal([1L], label.Shape!);
            Assert.Equal(training.ClassLabels![expected], label.ToArray<string>()[0]);
        }
    }

    [Fact]
    public async Task CancellingARunningTrainJobEndsItCancelledWithinSecondsAndRegistersNoModel()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("cancel");
        var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = await IrisInlineAsync(),
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 1_000_000, BatchSize = 1, EarlyStoppingPatience = 0 },
        }, ct);
        await WaitForEpochAsync(jobId, ct);

        var stopwatch = Stopwatch.StartNew();
        await system.Client.CancelAsync(jobId, ct);
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);
        stopwatch.Stop();

        Assert.Equal(JobStatus.Cancelled, job.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"cancel took {stopwatch.Elapsed}");
        Assert.DoesNotContain(await system.Client.ListModelsAsync(ct), m => m.Name == name);
        Assert.Null(FindTrainingProcess(jobId));
        var events = await system.Client.GetJobEventsAsync(jobId, cancellationToken: ct);
        Assert.Equal("cancelled", events[^1].Type);
    }

    /// <summary>A cancel sent right after its job travels another queue and can overtake it: the worker waits for the job
    /// instead of dropping the cancel (which left the job training for good).</summary>
    [Fact]
    public async Task ACancelSentRightAfterTheJobEndsItCancelledEvenWhenItArrivesFirst()
    {
        var ct = TestTimeout.After(180);
        var dataset = await IrisInlineAsync();
        var names = Enumerable.Range(0, 4).Select(_ => TestModels.UniqueName("cancel-early")).ToArray();

        var ids = await Task.WhenAll(names.Select(async name =>
        {
            var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
            {
                Model = name,
                Dataset = dataset,
                LabelColumn = "species",
                Hyperparameters = new TrainingHyperparameters { Epochs = 1_000_000, BatchSize = 1, EarlyStoppingPatience = 0 },
            }, ct);
            await system.Client.CancelAsync(jobId, ct);
            return jobId;
        }));
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, job => Assert.Equal(JobStatus.Cancelled, job.Status));
        var models = await system.Client.ListModelsAsync(ct);
        Assert.DoesNotContain(models, m => names.Contains(m.Name));
    }

    [Fact]
    public async Task KillingTheTrainingProcessRetriesTheJobWithTheReasonRecordedAndRegistersExactlyOneModel()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("crash");
        var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = await IrisInlineAsync(),
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 60, BatchSize = 4, EarlyStoppingPatience = 0 },
        }, ct);
        await WaitForEpochAsync(jobId, ct);

        var child = FindTrainingProcess(jobId);
        Assert.NotNull(child);
        child.Kill(); // SIGKILL, as kill -9
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);

        Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}");
        var events = await system.Client.GetJobEventsAsync(jobId, cancellationToken: ct);
        var failed = Assert.Single(events, e => e.Type == "attempt-failed");
        Assert.Contains("signal 9", failed.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2], events.Where(e => e.Type == "started").Select(e => e.Attempt!.Value));
        var model = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name);
        Assert.Equal(jobId, model.Training!.TrainingJobId);
    }

    [Fact]
    public async Task InlineRowsWithCommasQuotesAndLineBreaksInTheirTextReachTheTrainerIntact()
    {
        var ct = TestTimeout.After(180);
        var labels = new Dictionary<string, string>
        {
            ["Iris-setosa"] = "setosa, \"the first\"",
            ["Iris-versicolor"] = "versi\ncolor",
            ["Iris-virginica"] = "virginica\r\n\"third\", last",
        };
        string[] columns = ["sepal, length", "sepal \"width\"", "petal\nlength", "petal_width", "species"];
        var rows = File.ReadLines(IrisPath).Skip(1).Select(l => l.Split(','))
            .Select(v => (IReadOnlyList<string>)[v[0], v[1], v[2], v[3], labels[v[4]]]);

        var name = TestModels.UniqueName("quoted");
        var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = TrainRequest.InlineRows(columns, rows),
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 5 },
        }, ct);
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);

        Assert.True(job.Status == JobStatus.Succeeded, $"{job.Status}: {job.Error}");
        var training = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name).Training!;
        Assert.Equal(columns[..4], training.FeatureColumns);
        Assert.Equal(labels.Values.Order(StringComparer.Ordinal), training.ClassLabels);
    }

    [Theory]
    [InlineData("missing-column", "Missing column: the label column 'species'")]
    [InlineData("not-a-number", "Row 3 (line 4), column 'petal_length': 'n/a' is not a number")]
    [InlineData("single-class", "Single class")]
    [InlineData("too-few-rows", "Too few rows: training needs at least 10, the data has 4")]
    public async Task BadTrainingDataFailsTheJobWithAReasonNamingTheRowOrColumn(string problem, string reason)
    {
        var ct = TestTimeout.After(120);
        var rows = File.ReadLines(IrisPath).Skip(1).Select(l => (IReadOnlyList<string>)l.Split(',')).ToList();
        var columns = IrisColumns.ToArray();
        switch (problem)
        {
            case "missing-column":
                columns[4] = "variety";
                break;
            case "not-a-number":
                rows[2] = [rows[2][0], rows[2][1], "n/a", rows[2][3], rows[2][4]];
                break;
            case "single-class":
                rows = rows.Take(50).ToList();
                break;
            default:
                rows = rows.Take(4).ToList();
                break;
        }

        var name = TestModels.UniqueName("bad");
        var jobId = await system.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = TrainRequest.InlineRows(columns, rows),
            LabelColumn = "species",
        }, ct);
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Contains(reason, job.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(await system.Client.ListModelsAsync(ct), m => m.Name == name);
        var events = await system.Client.GetJobEventsAsync(jobId, cancellationToken: ct);
        Assert.Equal("failed", events[^1].Type);
        Assert.DoesNotContain(events, e => e.Type == "attempt-failed");
    }

    private static Task<TrainingDataset> IrisInlineAsync() => Task.FromResult(TrainRequest.InlineRows(
        IrisColumns, File.ReadLines(IrisPath).Skip(1).Select(l => (IReadOnlyList<string>)l.Split(','))));

    private async Task WaitForEpochAsync(Guid jobId, CancellationToken ct)
    {
        while (!(await system.Client.GetJobEventsAsync(jobId, cancellationToken: ct)).Any(e => e.Type == "epoch"))
        {
            await Task.Delay(100, ct);
        }
    }

    /// <summary>The training child of this job, found by the job id on its command line.</summary>
    private static Process? FindTrainingProcess(Guid jobId)
    {
        var needle = jobId.ToString();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (commandLine.Contains("AIaaS.Queue.Training.dll", StringComparison.Ordinal) && commandLine.Contains(needle, StringComparison.Ordinal))
                {
                    return Process.GetProcessById(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
            }
        }

        return null;
    }
}

/// <summary>One worker process that runs train jobs; heartbeats every 200 ms so that cancellation is quick to see.</summary>
public sealed class TrainingSystem : DistributedSystem
{
    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Training__HeartbeatInterval"] = "00:00:00.200",
        ["Training__MaxConcurrentJobs"] = "2",
        ["Training__WorkDirectory"] = Path.Combine(DataDirectory.FullName, "training"),
    };
}
