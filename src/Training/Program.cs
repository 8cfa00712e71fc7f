using System.Diagnostics;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain.Explanations;
using AIaaS.Queue.Training;

// The training child: `AIaaS.Queue.Training --spec <SubmitTrainJob.json> --data <csv|jsonl> --out <directory>`.
// Reads and checks the data before touching TorchSharp, trains, writes <out>/model.onnx, and reports on stdout as
// JSON lines (see ChildMessage). The worker owns the job; this process only trains and may be killed at any time.
var arguments = ParseArguments(args);
if (arguments is null)
{
    await Console.Error.WriteLineAsync("usage: AIaaS.Queue.Training --spec <file> --data <file> --out <directory> [--job <id>]");
    return ChildExitCodes.BadArguments;
}

var output = Console.Out;
void Send(ChildMessage message)
{
    output.WriteLine(JsonSerializer.Serialize(message, ChildMessage.JsonOptions));
    output.Flush();
}

try
{
    var spec = JsonSerializer.Deserialize<SubmitTrainJob>(await File.ReadAllTextAsync(arguments.Value.Spec), WireJson.Options)
        ?? throw new InvalidTrainingDataException("The job specification is empty.");
    CheckSettings(spec);
    var data = TrainingData.Load(arguments.Value.Data, spec);
    Send(new ChildMessage
    {
        Type = ChildMessageTypes.Loaded,
        Rows = data.Features.Length,
        FeatureColumns = data.FeatureColumns,
        ClassLabels = data.Classes,
    });

    TorchRuntime.EnsureLoaded();
    if (int.TryParse(Environment.GetEnvironmentVariable("AIAAS_TRAINING_THREADS"), out var threads) && threads > 0)
    {
        TorchSharp.torch.set_num_threads(threads);
    }
    else
    {
        // Small MLPs train faster on one thread than on many contending ones.
        TorchSharp.torch.set_num_threads(1);
    }

    // Every epoch is reported while that is cheap; in long runs at most ten a second (and always the last).
    var sinceReport = Stopwatch.StartNew();
    var outcome = Trainer.Train(spec, data, report =>
    {
        if (spec.Hyperparameters.Epochs <= 1000 || report.Epoch == 1 || report.Epoch == report.Epochs || sinceReport.ElapsedMilliseconds >= 100)
        {
            sinceReport.Restart();
            Send(new ChildMessage
            {
                Type = ChildMessageTypes.Epoch,
                Epoch = report.Epoch,
                Epochs = report.Epochs,
                TrainLoss = report.TrainLoss,
                ValidationLoss = report.ValidationLoss,
                ValidationAccuracy = report.ValidationAccuracy,
                ValidationRmse = report.ValidationRmse,
                LearningRate = report.LearningRate,
                ElapsedSeconds = report.ElapsedSeconds,
            });
        }
    }, CancellationToken.None);

    Directory.CreateDirectory(arguments.Value.Out);
    var onnxPath = Path.Combine(arguments.Value.Out, "model.onnx");
    await File.WriteAllBytesAsync(onnxPath, outcome.Onnx);
    Send(new ChildMessage
    {
        Type = ChildMessageTypes.Succeeded,
        Device = outcome.Device,
        OnnxPath = onnxPath,
        FeatureColumns = data.FeatureColumns,
        ClassLabels = data.Classes,
        Metrics = outcome.Metrics,
        Background = BackgroundRows.Sample(data.FeatureColumns, data.Features, BackgroundRows.TrainingSample, spec.Hyperparameters.Seed),
    });
    return ChildExitCodes.Succeeded;
}
catch (InvalidTrainingDataException ex)
{
    Send(new ChildMessage { Type = ChildMessageTypes.Failed, Category = "data", Reason = $"Invalid training data: {ex.Message}" });
    return ChildExitCodes.InvalidData;
}
catch (TorchUnavailableException ex)
{
    Send(new ChildMessage { Type = ChildMessageTypes.Failed, Category = "torch-load", Reason = ex.Message });
    return ChildExitCodes.TorchUnavailable;
}
catch (Exception ex)
{
    Send(new ChildMessage { Type = ChildMessageTypes.Failed, Category = "internal", Reason = $"{ex.GetType().Name}: {ex.Message}" });
    await Console.Error.WriteLineAsync(ex.ToString());
    return ChildExitCodes.Failed;
}

static (string Spec, string Data, string Out)? ParseArguments(string[] args)
{
    string? spec = null, data = null, output = null;
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        switch (args[i])
        {
            case "--spec": spec = args[i + 1]; break;
            case "--data": data = args[i + 1]; break;
            case "--out": output = args[i + 1]; break;
            case "--job": break; // names the process for people (and tests) looking at the process list
            default: return null;
        }
    }

    return spec is null || data is null || output is null ? null : (spec, data, output);
}

static void CheckSettings(SubmitTrainJob spec)
{
    var hp = spec.Hyperparameters;
    string? problem = hp switch
    {
        { Epochs: < 1 } => "Epochs must be at least 1.",
        { BatchSize: < 1 } => "BatchSize must be at least 1.",
        { LearningRate: <= 0 or double.NaN or double.PositiveInfinity } => "LearningRate must be a positive number.",
        { ValidationFraction: < 0 or >= 1 } => "ValidationFraction must be at least 0 and below 1.",
        { WeightDecay: < 0 } => "WeightDecay must not be negative.",
        { EarlyStoppingPatience: < 0 } => "EarlyStoppingPatience must not be negative.",
        _ => null,
    };
    problem ??= spec.Architecture.HiddenSizes.Any(s => s < 1 || s > 65536) ? "Every hidden layer size must be between 1 and 65536." : null;
    if (problem is not null)
    {
        throw new InvalidTrainingDataException(problem);
    }
}
