using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using AIaaS.Queue.Cli;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using Microsoft.AspNetCore.Hosting.Server;
using Spectre.Console;

namespace AIaaS.Queue.Server;

/// <summary>
/// The system's main job on the embedded default, in one process: in-memory transport, embedded store, workers and
/// the ResultApi on a loopback port. Registers a real ONNX model, submits predict jobs through the SDK and prints
/// the results, the job statuses and the batch sizes the workers actually used.
/// </summary>
internal static class Quickstart
{
    private const string ModelName = "quickstart-mlp";

    public static Command Command()
    {
        var jobs = new Option<int>("--jobs") { Description = "predict jobs to submit", DefaultValueFactory = _ => 300 };
        var dataDir = new Option<DirectoryInfo>("--data-dir")
        {
            Description = "where the embedded store keeps its file",
            DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "aiaas-quickstart")),
        };
        var command = new Command("quickstart", "Run the whole system in this process and push predict jobs through it") { jobs, dataDir };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(jobs), parse.GetValue(dataDir)!, ct));
        return command;
    }

    public static async Task<int> RunAsync(int jobCount, DirectoryInfo dataDir, CancellationToken cancellationToken)
    {
        dataDir.Create();
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 140;
        }

        await using var app = BuildEmbeddedServer(dataDir);
        await app.StartAsync(cancellationToken);
        var apiUrl = app.GetAddress();
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[bold]AIaaS.Queue quickstart[/]: embedded default, in-memory transport, embedded store at [grey]{dataDir.FullName}[/], workers in this process, ResultApi at {apiUrl}");

        var client = app.Services.GetRequiredService<IAiaasClient>();

        // 1. A real ONNX file, written by the project's own writer, registered through the SDK.
        var mlp = MlpModel.CreateRandom(inputSize: 4, hiddenSizes: [64, 64], outputSize: 3, Activation.Relu, OutputActivation.Softmax, seed: 7);
        using var onnx = new MemoryStream(OnnxModelWriter.Write(mlp));
        var model = await client.RegisterModelAsync(ModelName, onnx,
            new BatchingSettings { MaxBatchSize = 32, MaxQueueDelayMilliseconds = 5 }, "4 → 64 → 64 → 3 softmax MLP (random weights)", cancellationToken);
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"registered [green]{model.Name}[/] v{model.Version}: {CliApp.Describe(model.Inputs)} → {CliApp.Describe(model.Outputs)}, max batch 32, max delay 5 ms");

        // 2. Predict jobs through the SDK, all at once, plus two malformed ones that must fail alone.
        var random = new Random(1);
        var requests = Enumerable.Range(0, jobCount)
            .Select(_ => new PredictRequest { Model = ModelName, Features = [.. Enumerable.Range(0, 4).Select(_ => (float)(random.NextDouble() * 8))] })
            .Append(new PredictRequest { Model = ModelName, Features = [1f, 2f, 3f] })
            .Append(new PredictRequest { Model = ModelName, Features = [1f, float.NaN, 3f, 4f] })
            .ToList();
        var stopwatch = Stopwatch.StartNew();
        var ids = await client.SubmitPredictManyAsync(requests, cancellationToken);
        var views = await Task.WhenAll(ids.Select(id => client.WaitForCompletionAsync(id, cancellationToken)));
        var elapsed = stopwatch.Elapsed;

        // 3. What happened.
        var table = new Table().AddColumns("job", "features", "class probabilities", "status", "batch", "device");
        for (var i = 0; i < Math.Min(8, jobCount); i++)
        {
            var output = await client.GetOutputAsync(ids[i], cancellationToken);
            table.AddRow(new[] { ShortId(ids[i]), Format(requests[i].Features!), Format(output.Outputs.Single(o => o.Name == mlp.OutputName).ToFloats()),
                views[i].Status.ToString(), $"{views[i].BatchSize} (…{views[i].BatchId?[^6..]})", views[i].Device ?? "" }.Select(cell => new Text(cell)));
        }

        AnsiConsole.Write(table);
        foreach (var failed in views.Where(v => v.Status == JobStatus.Failed))
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[yellow]failed as it should[/] {ShortId(failed.Id)}: {failed.Error}");
        }

        var statuses = views.GroupBy(v => v.Status).OrderBy(g => g.Key).Select(g => $"{g.Key.ToString().ToLowerInvariant()} {g.Count()}");
        var batches = views.Where(v => v.BatchId is not null).GroupBy(v => v.BatchId).Select(g => g.First().BatchSize ?? 0).ToList();
        var histogram = batches.GroupBy(size => size).OrderByDescending(g => g.Key).Select(g => $"{g.Key}×{g.Count()}");
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"statuses: {string.Join(", ", statuses)}");
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"batches: {batches.Count} model calls for {batches.Sum()} jobs, mean size {(batches.Count == 0 ? 0 : batches.Average()):F1}, max {(batches.Count == 0 ? 0 : batches.Max())} (limit 32); sizes {string.Join(" ", histogram)}");
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"throughput: {views.Length} jobs in {elapsed.TotalSeconds:F2} s = {views.Length / elapsed.TotalSeconds:F0} jobs/s, submit to completion seen by the SDK");

        // 4. Training: the bundled Iris data, trained in a TorchSharp child process, registered, then scored.
        var trained = await TrainAndScoreAsync(client, cancellationToken);

        await app.StopAsync(cancellationToken);
        var ok = views.Take(jobCount).All(v => v.Status == JobStatus.Succeeded) && views.Skip(jobCount).All(v => v.Status == JobStatus.Failed)
            && trained;
        AnsiConsole.MarkupLine(ok ? "[green]quickstart succeeded[/]" : "[red]quickstart found unexpected job states[/]");
        return ok ? 0 : 1;
    }

    private const string TrainedModelName = "quickstart-iris";

    private static async Task<bool> TrainAndScoreAsync(IAiaasClient client, CancellationToken cancellationToken)
    {
        if (FindInCheckout(Path.Combine("data", "iris.csv")) is not { } iris)
        {
            AnsiConsole.MarkupLine("[yellow]training skipped[/]: data/iris.csv not found above this program or the current folder");
            return true;
        }

        await EnsureTorchRuntimeAsync(cancellationToken);
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"training an MLP on [grey]{iris.FullName}[/] (Fisher's Iris, 150 rows) with the default settings");
        DatasetView dataset;
        await using (var stream = iris.OpenRead())
        {
            dataset = await client.UploadDatasetAsync(iris.Name, stream, cancellationToken);
        }

        var jobId = await client.SubmitTrainAsync(new TrainRequest
        {
            Model = TrainedModelName,
            Dataset = new TrainingDataset { FileId = dataset.Id },
            LabelColumn = "species",
        }, cancellationToken);
        var job = await TrainingProgressView.WatchAsync(client, jobId, cancellationToken);
        if (job.Status != JobStatus.Succeeded)
        {
            return false;
        }

        var model = (await client.ListModelsAsync(cancellationToken)).Single(m => m.Name == TrainedModelName && m.Version == job.ModelVersion);
        var metrics = model.Training!.Metrics;
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
            $"registered [green]{model.Name}[/] v{model.Version}: val accuracy {metrics["val_accuracy"]:F3}, {metrics["epochs_run"]} epochs at {metrics["epochs_per_second"]:F0} epochs/s, ONNX Runtime vs TorchSharp max diff {metrics["onnx_max_abs_diff"]:G2}, data {model.Training.DatasetFingerprint[..19]}…");

        // Score every flower with the trained model through the predict path (batched like any other model).
        var rows = File.ReadLines(iris.FullName).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();
        var requests = rows.Select(r => new PredictRequest
        {
            Model = TrainedModelName,
            ModelVersion = job.ModelVersion,
            Features = [.. r.Take(4).Select(v => float.Parse(v, CultureInfo.InvariantCulture))],
        }).ToList();
        var ids = await client.SubmitPredictManyAsync(requests, cancellationToken);
        await Task.WhenAll(ids.Select(id => client.WaitForCompletionAsync(id, cancellationToken)));
        var classes = model.Training.ClassLabels!;
        var correct = 0;
        var table = new Table().AddColumns("flower", "features", "predicted", "probability");
        for (var i = 0; i < ids.Count; i++)
        {
            var p = (await client.GetOutputAsync(ids[i], cancellationToken)).Outputs.Single(o => o.Name == "output").ToFloats();
            var best = Array.IndexOf(p, p.Max());
            correct += classes[best] == rows[i][4] ? 1 : 0;
            if (i % 50 is 0 or 25)
            {
                table.AddRow(new[] { $"#{i + 1} {rows[i][4]}", Format(requests[i].Features!), classes[best], p[best].ToString("F3", CultureInfo.InvariantCulture) }
                    .Select(cell => new Text(cell)));
            }
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"scored all {ids.Count} flowers with the trained model: {correct} correct ({(double)correct / ids.Count:P1})");
        return correct >= 0.9 * ids.Count;
    }

    /// <summary>A file of the source checkout this program runs from (or the current folder is in).</summary>
    private static FileInfo? FindInCheckout(string relativePath)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = new FileInfo(Path.Combine(dir.FullName, relativePath));
                if (candidate.Exists)
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// TorchSharp 0.107 needs a newer libstdc++ than Debian 12 has; the checkout's script sets up a private runtime for
    /// the training child where that is so, and does nothing on newer hosts or once done, so that this one command
    /// works on a fresh machine.
    /// </summary>
    private static async Task EnsureTorchRuntimeAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux() || FindInCheckout(Path.Combine("scripts", "setup-torch-compat.sh")) is not { } script)
        {
            return;
        }

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script.FullName);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var lastLine = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        if (process.ExitCode == 0)
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[grey]{lastLine}[/]");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[yellow]setting up the TorchSharp runtime failed[/] ({script.Name}): {(await errors).Trim()}");
        }
    }

    /// <summary>The embedded default as a web application on a free loopback port, with the SDK publishing on its bus.</summary>
    public static WebApplication BuildEmbeddedServer(DirectoryInfo dataDir) => AiaasServer.Build(
        new Dictionary<string, string?>
        {
            ["Transport:Kind"] = "InMemory",
            ["Store:Kind"] = "Embedded",
            ["Store:EmbeddedPath"] = Path.Combine(dataDir.FullName, "aiaas.db"),
            ["Workers:ModelCacheDirectory"] = Path.Combine(dataDir.FullName, "models"),
        },
        builder =>
        {
            builder.Services.AddAiaasClient(_ => { });
            builder.Services.AddOptions<AiaasClientOptions>().PostConfigure<IServer>((options, server) => options.ApiUrl = server.GetAddress());
        });

    private static string Format(float[] values) =>
        string.Join(" ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)));

    // Version-7 ids start with their timestamp: the tail tells jobs apart.
    private static string ShortId(Guid id) => "…" + id.ToString()[^8..];
}
