using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AIaaS.Queue.Training;

/// <summary>One epoch's numbers, as reported on stdout.</summary>
internal sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double ValidationLoss, double? ValidationAccuracy,
    double? ValidationRmse, double LearningRate, double ElapsedSeconds);

/// <summary>What a finished training hands back: the ONNX file and the numbers that go with it.</summary>
internal sealed record TrainingOutcome(byte[] Onnx, Dictionary<string, double> Metrics, string Device, int EpochsRun, int BestEpoch);

/// <summary>
/// Trains an MLP with TorchSharp on standardised features and exports it with the project's ONNX writer.
/// The scaler is folded into the first Gemm (W' = W / s, b' = b - (m / s) W, computed in double) and, for regression,
/// the label scale into the last (W' = W * s_y, b' = b * s_y + m_y), so the ONNX model takes raw features and returns
/// raw labels; all other weights are written exactly as trained. The ONNX Runtime output on the validation rows is
/// compared with TorchSharp's before the model is handed back.
/// </summary>
internal static class Trainer
{
    public const double ParityTolerance = 1e-4;

    public static TrainingOutcome Train(SubmitTrainJob spec, TrainingData data, Action<EpochReport> report, CancellationToken cancellationToken)
    {
        var hp = spec.Hyperparameters;
        var device = cuda.is_available() ? CUDA : CPU;
        var deviceName = device.type == DeviceType.CUDA ? "cuda" : "cpu";
        manual_seed(hp.Seed);

        var setup = Prepare(spec, data);
        var (modules, linears) = Layers(spec.Architecture, setup.Sizes);
        using var model = nn.Sequential(modules);
        model.to(device);

        using var xTrain = Matrix(setup.TrainRows.Select(setup.Standardise), setup.TrainRows.Length, setup.Inputs).to(device);
        using var xVal = Matrix(setup.ValidationRows.Select(setup.Standardise), setup.ValidationRows.Length, setup.Inputs).to(device);
        using var yTrain = Labels(setup.TrainRows.Select(setup.Target), setup.IsClassification && !setup.Binary).to(device);
        using var yVal = Labels(setup.ValidationRows.Select(setup.Target), setup.IsClassification && !setup.Binary).to(device);

        using optim.Optimizer optimizer = hp.Optimizer == TrainingOptimizer.Sgd
            ? optim.SGD(model.parameters(), hp.LearningRate, momentum: hp.Momentum, weight_decay: hp.WeightDecay)
            : optim.Adam(model.parameters(), hp.LearningRate, weight_decay: hp.WeightDecay);

        var fit = Fit(model, optimizer, setup, hp, device, (xTrain, yTrain), (xVal, yVal), report, cancellationToken);
        var final = Evaluate(model, xVal, yVal, setup.Loss, setup.IsClassification, setup.Binary, setup.YStd);
        var torchPredictions = Predict(model, xVal, setup);
        var mlp = Export(linears, spec.Architecture.Activation, setup.Mean, setup.Std, setup.YMean, setup.YStd, setup.IsClassification,
            setup.Binary, setup.Sizes[^1]);
        var onnx = OnnxModelWriter.Write(mlp, new Dictionary<string, string>
        {
            ["aiaas.training_job_id"] = spec.JobId.ToString(),
            ["aiaas.features"] = string.Join(",", data.FeatureColumns),
            ["aiaas.classes"] = data.Classes is null ? "" : string.Join(",", data.Classes),
            ["aiaas.scaler"] = "folded into the first Gemm",
        });
        var maxDiff = CheckParity(onnx, data, setup, torchPredictions);
        return new TrainingOutcome(onnx, Metrics(fit, final, setup, maxDiff), deviceName, fit.EpochsRun, fit.BestEpoch);
    }

    /// <summary>The data side of a training: the split, the feature scaler, the label scale (regression) and the loss.</summary>
    private sealed record Setup(int[] TrainRows, int[] ValidationRows, int[] Sizes, double[] Mean, double[] Std, double YMean, double YStd,
        bool IsClassification, bool Binary, Func<int, float[]> Standardise, Func<int, float> Target)
    {
        public int Inputs => Sizes[0];

        public Tensor Loss(Tensor logits, Tensor target) => IsClassification
            ? Binary ? nn.functional.binary_cross_entropy_with_logits(logits.squeeze(1), target) : nn.functional.cross_entropy(logits, target)
            : nn.functional.mse_loss(logits.squeeze(1), target);
    }

    /// <summary>How the epochs went: the numbers the metrics report.</summary>
    private sealed record FitResult(int EpochsRun, int BestEpoch, double LastTrainLoss, double Seconds);

    private static Setup Prepare(SubmitTrainJob spec, TrainingData data)
    {
        var hp = spec.Hyperparameters;
        var isClassification = spec.Task != TrainingTask.Regression;
        var binary = spec.Task == TrainingTask.BinaryClassification;
        var (trainRows, valRows) = Split(data, hp.ValidationFraction, hp.Seed, isClassification);
        var inputs = data.FeatureColumns.Length;
        var (mean, std) = Standardiser(data.Features, trainRows, inputs);
        double yMean = 0, yStd = 1;
        if (!isClassification)
        {
            yMean = trainRows.Average(r => (double)data.Labels[r]);
            yStd = Math.Sqrt(trainRows.Average(r => Math.Pow(data.Labels[r] - yMean, 2)));
            if (yStd < 1e-12)
            {
                yStd = 1;
            }
        }

        var outputs = isClassification ? (binary ? 1 : data.Classes!.Length) : 1;
        var sizes = spec.Architecture.HiddenSizes.Prepend(inputs).Append(outputs).ToArray();
        return new Setup(trainRows, valRows, sizes, mean, std, yMean, yStd, isClassification, binary,
            row => data.Features[row].Select((v, f) => (float)((v - mean[f]) / std[f])).ToArray(),
            row => isClassification ? data.Labels[row] : (float)((data.Labels[row] - yMean) / yStd));
    }

    /// <summary>The MLP's layers: a Linear per pair of sizes, the hidden activation between them.</summary>
    private static (List<(string, nn.Module<Tensor, Tensor>)> Modules, List<Linear> Linears) Layers(TrainingArchitecture architecture, int[] sizes)
    {
        var linears = new List<Linear>();
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (var i = 0; i < sizes.Length - 1; i++)
        {
            var linear = nn.Linear(sizes[i], sizes[i + 1]);
            linears.Add(linear);
            modules.Add(($"fc{i}", linear));
            if (i < sizes.Length - 2)
            {
                modules.Add(($"act{i}", architecture.Activation switch
                {
                    HiddenActivation.Tanh => nn.Tanh(),
                    HiddenActivation.Sigmoid => nn.Sigmoid(),
                    _ => nn.ReLU(),
                }));
            }
        }

        return (modules, linears);
    }

    /// <summary>The epochs: shuffled mini-batches, a report per epoch, early stopping on the validation loss; the model
    /// ends with the weights of its best epoch.</summary>
    private static FitResult Fit(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Setup setup, TrainingHyperparameters hp, Device device,
        (Tensor X, Tensor Y) train, (Tensor X, Tensor Y) validation, Action<EpochReport> report, CancellationToken cancellationToken)
    {
        var generator = new Generator((ulong)hp.Seed, device);
        var stopwatch = Stopwatch.StartNew();
        var best = double.PositiveInfinity;
        var bestEpoch = 0;
        var bestWeights = Snapshot(model);
        var sinceBest = 0;
        var epoch = 0;
        double lastTrainLoss = double.NaN;
        var batchSize = Math.Max(1, hp.BatchSize);
        var rows = setup.TrainRows.Length;
        for (epoch = 1; epoch <= hp.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            model.train();
            double lossSum = 0;
            using (var epochScope = NewDisposeScope())
            {
                var order = randperm(rows, generator: generator, device: device);
                for (var start = 0; start < rows; start += batchSize)
                {
                    using var stepScope = NewDisposeScope();
                    var count = Math.Min(batchSize, rows - start);
                    var index = order.narrow(0, start, count);
                    optimizer.zero_grad();
                    var loss = setup.Loss(model.forward(train.X.index_select(0, index)), train.Y.index_select(0, index));
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>() * count;
                }
            }

            lastTrainLoss = lossSum / rows;
            var val = Evaluate(model, validation.X, validation.Y, setup.Loss, setup.IsClassification, setup.Binary, setup.YStd);
            report(new EpochReport(epoch, hp.Epochs, lastTrainLoss, val.Loss, val.Accuracy, val.Rmse, hp.LearningRate,
                stopwatch.Elapsed.TotalSeconds));

            if (val.Loss < best - 1e-7)
            {
                best = val.Loss;
                bestEpoch = epoch;
                DisposeAll(bestWeights);
                bestWeights = Snapshot(model);
                sinceBest = 0;
            }
            else if (hp.EarlyStoppingPatience > 0 && ++sinceBest >= hp.EarlyStoppingPatience)
            {
                break;
            }
        }

        var epochsRun = Math.Min(epoch, hp.Epochs);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Restore(model, bestWeights);
        DisposeAll(bestWeights);
        return new FitResult(epochsRun, bestEpoch, lastTrainLoss, seconds);
    }

    /// <summary>TorchSharp's own predictions on the validation rows, in the units the ONNX model returns.</summary>
    private static float[] Predict(nn.Module<Tensor, Tensor> model, Tensor xVal, Setup setup)
    {
        float[] predictions;
        using (no_grad())
        using (NewDisposeScope())
        {
            model.eval();
            var logits = model.forward(xVal);
            var output = setup.IsClassification ? (setup.Binary ? sigmoid(logits) : nn.functional.softmax(logits, 1)) : logits;
            predictions = output.cpu().data<float>().ToArray();
        }

        if (!setup.IsClassification)
        {
            for (var i = 0; i < predictions.Length; i++)
            {
                predictions[i] = (float)((predictions[i] * setup.YStd) + setup.YMean);
            }
        }

        return predictions;
    }

    /// <summary>Runs the exported model with ONNX Runtime on the raw validation rows and compares with TorchSharp; answers
    /// the largest difference, or throws when the two disagree beyond <see cref="ParityTolerance"/>.</summary>
    private static double CheckParity(byte[] onnx, TrainingData data, Setup setup, float[] torchPredictions)
    {
        var valRows = setup.ValidationRows;
        var raw = valRows.SelectMany(r => data.Features[r]).ToArray();
        var onnxPredictions = RunOnnx(onnx, raw, valRows.Length, setup.Inputs);
        double maxDiff = 0, maxScaledDiff = 0;
        for (var i = 0; i < onnxPredictions.Length; i++)
        {
            var diff = Math.Abs(onnxPredictions[i] - torchPredictions[i]);
            maxDiff = Math.Max(maxDiff, diff);
            maxScaledDiff = Math.Max(maxScaledDiff, diff / Math.Max(1, Math.Abs(torchPredictions[i])));
        }

        if (!(maxScaledDiff <= ParityTolerance))
        {
            throw new InvalidOperationException(
                $"ONNX Runtime and TorchSharp disagree on the validation rows by up to {maxDiff:G4} (limit {ParityTolerance}); the model is not registered.");
        }

        return maxDiff;
    }

    private static Dictionary<string, double> Metrics(FitResult fit, (double Loss, double? Accuracy, double? Rmse) final, Setup setup, double maxDiff)
    {
        var metrics = new Dictionary<string, double>
        {
            ["train_loss"] = fit.LastTrainLoss,
            ["val_loss"] = final.Loss,
            ["epochs_run"] = fit.EpochsRun,
            ["best_epoch"] = fit.BestEpoch,
            ["epochs_per_second"] = fit.EpochsRun / Math.Max(fit.Seconds, 1e-9),
            ["training_seconds"] = fit.Seconds,
            ["train_rows"] = setup.TrainRows.Length,
            ["val_rows"] = setup.ValidationRows.Length,
            ["onnx_max_abs_diff"] = maxDiff,
        };
        if (final.Accuracy is { } accuracy)
        {
            metrics["val_accuracy"] = accuracy;
        }

        if (final.Rmse is { } rmse)
        {
            metrics["val_rmse"] = rmse;
        }

        return metrics;
    }

    private static (double Loss, double? Accuracy, double? Rmse) Evaluate(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y,
        Func<Tensor, Tensor, Tensor> loss, bool isClassification, bool binary, double yStd)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        model.eval();
        var logits = model.forward(x);
        var value = loss(logits, y).item<float>();
        if (!isClassification)
        {
            // MSE of standardised labels, back in the label's units.
            return (value, null, Math.Sqrt(value) * yStd);
        }

        var predicted = binary ? (logits.squeeze(1) > 0).to_type(ScalarType.Float32) : logits.argmax(1);
        var correct = predicted.eq(y).sum().item<long>();
        return (value, (double)correct / x.shape[0], null);
    }

    private static (int[] Train, int[] Validation) Split(TrainingData data, double fraction, int seed, bool stratify)
    {
        var random = new Random(seed);
        var groups = stratify
            ? Enumerable.Range(0, data.Labels.Length).GroupBy(r => data.Labels[r]).Select(g => g.ToArray()).ToList()
            : [Enumerable.Range(0, data.Labels.Length).ToArray()];
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var group in groups)
        {
            random.Shuffle(group);
            var take = (int)Math.Round(group.Length * Math.Clamp(fraction, 0, 0.9));
            if (fraction > 0 && group.Length >= 2)
            {
                take = Math.Clamp(take, 1, group.Length - 1);
            }

            validation.AddRange(group.Take(take));
            train.AddRange(group.Skip(take));
        }

        // Without a validation share the training rows stand in for it: early stopping and metrics still work.
        return validation.Count == 0 ? (train.ToArray(), train.ToArray()) : (train.ToArray(), validation.ToArray());
    }

    private static (double[] Mean, double[] Std) Standardiser(float[][] features, int[] rows, int inputs)
    {
        var mean = new double[inputs];
        var std = new double[inputs];
        for (var f = 0; f < inputs; f++)
        {
            mean[f] = rows.Average(r => (double)features[r][f]);
            std[f] = Math.Sqrt(rows.Average(r => Math.Pow(features[r][f] - mean[f], 2)));
            if (std[f] < 1e-12)
            {
                std[f] = 1; // a constant column: centred, not scaled
            }
        }

        return (mean, std);
    }

    private static Tensor Matrix(IEnumerable<float[]> rows, int count, int columns) =>
        tensor(rows.SelectMany(r => r).ToArray(), [count, columns]);

    private static Tensor Labels(IEnumerable<float> labels, bool asClassIndex) => asClassIndex
        ? tensor(labels.Select(l => (long)l).ToArray())
        : tensor(labels.ToArray());

    private static List<Tensor> Snapshot(nn.Module model) => model.parameters().Select(p => p.detach().clone()).ToList();

    private static void Restore(nn.Module model, List<Tensor> weights)
    {
        using var noGrad = no_grad();
        foreach (var (parameter, saved) in model.parameters().Zip(weights))
        {
            parameter.copy_(saved);
        }
    }

    private static void DisposeAll(List<Tensor> tensors)
    {
        foreach (var t in tensors)
        {
            t.Dispose();
        }
    }

    private static MlpModel Export(List<Linear> linears, HiddenActivation hidden, double[] mean, double[] std, double yMean, double yStd,
        bool isClassification, bool binary, int outputs)
    {
        var activation = hidden switch
        {
            HiddenActivation.Tanh => Activation.Tanh,
            HiddenActivation.Sigmoid => Activation.Sigmoid,
            _ => Activation.Relu,
        };
        var layers = new List<DenseLayer>();
        for (var l = 0; l < linears.Count; l++)
        {
            // TorchSharp keeps weight as [out, in]; the writer takes W[in, out].
            var weight = linears[l].weight!.detach().cpu().data<float>().ToArray();
            var bias = linears[l].bias!.detach().cpu().data<float>().ToArray();
            var (nIn, nOut) = ((int)linears[l].weight!.shape[1], (int)linears[l].weight!.shape[0]);
            var w = new double[nIn * nOut];
            var b = bias.Select(v => (double)v).ToArray();
            for (var i = 0; i < nIn; i++)
            {
                for (var o = 0; o < nOut; o++)
                {
                    w[(i * nOut) + o] = weight[(o * nIn) + i];
                }
            }

            if (l == 0)
            {
                for (var o = 0; o < nOut; o++)
                {
                    for (var i = 0; i < nIn; i++)
                    {
                        b[o] -= mean[i] / std[i] * w[(i * nOut) + o];
                    }
                }

                for (var i = 0; i < nIn; i++)
                {
                    for (var o = 0; o < nOut; o++)
                    {
                        w[(i * nOut) + o] /= std[i];
                    }
                }
            }

            if (l == linears.Count - 1 && !isClassification)
            {
                for (var k = 0; k < w.Length; k++)
                {
                    w[k] *= yStd;
                }

                for (var o = 0; o < nOut; o++)
                {
                    b[o] = (b[o] * yStd) + yMean;
                }
            }

            layers.Add(new DenseLayer(nIn, nOut, w.Select(v => (float)v).ToArray(), b.Select(v => (float)v).ToArray(),
                l == linears.Count - 1 ? Activation.None : activation));
        }

        _ = outputs;
        return new MlpModel(layers, isClassification ? (binary ? OutputActivation.Sigmoid : OutputActivation.Softmax) : OutputActivation.None);
    }

    private static float[] RunOnnx(byte[] model, float[] batch, int rows, int inputs)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(batch, [rows, inputs]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["input"], [input], ["output"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
