using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace AIaaS.Queue.Cli;

// aiaas train / cancel / events.
internal static partial class CliApp
{
    private static Command TrainCommand()
    {
        var model = new Option<string>("--model", "-m") { Description = "name to register the trained model under", Required = true };
        var data = new Option<FileInfo>("--data", "-d") { Description = "CSV (header line) or JSON-lines file", Required = true };
        var label = new Option<string>("--label", "-l") { Description = "the column to predict", Required = true };
        var task = new Option<TrainingTask>("--task") { Description = "MulticlassClassification, BinaryClassification or Regression", DefaultValueFactory = _ => TrainingTask.MulticlassClassification };
        var hidden = new Option<string>("--hidden") { Description = "hidden layer sizes, comma-separated", DefaultValueFactory = _ => "32,32" };
        var activation = new Option<HiddenActivation>("--activation") { DefaultValueFactory = _ => HiddenActivation.Relu };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => new TrainingHyperparameters().Epochs };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => new TrainingHyperparameters().BatchSize };
        var lr = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => new TrainingHyperparameters().LearningRate };
        var optimizer = new Option<TrainingOptimizer>("--optimizer") { DefaultValueFactory = _ => TrainingOptimizer.Adam };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
        var weightDecay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 42 };
        var validation = new Option<double>("--validation-fraction") { DefaultValueFactory = _ => 0.2 };
        var patience = new Option<int>("--patience") { Description = "early stopping patience in epochs; 0 turns it off", DefaultValueFactory = _ => new TrainingHyperparameters().EarlyStoppingPatience };
        var timeout = new Option<int>("--timeout") { Description = "seconds the job may train", DefaultValueFactory = _ => 3600 };
        var noWait = new Option<bool>("--no-wait") { Description = "print the job id and return without watching" };
        var command = new Command("train", "Upload a dataset, submit a train job and watch it live (Ctrl+C cancels the job)")
        {
            model, data, label, task, hidden, activation, epochs, batch, lr, optimizer, momentum, weightDecay, seed, validation, patience, timeout, noWait,
        };
        command.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: true);
            await host.StartAsync(ct);
            var client = host.Services.GetRequiredService<IAiaasClient>();
            var file = parse.GetValue(data)!;
            DatasetView dataset;
            await using (var stream = file.OpenRead())
            {
                dataset = await client.UploadDatasetAsync(file.Name, stream, ct);
            }

            var jobId = await client.SubmitTrainAsync(new TrainRequest
            {
                Model = parse.GetValue(model)!,
                Dataset = new TrainingDataset { FileId = dataset.Id },
                LabelColumn = parse.GetValue(label)!,
                Task = parse.GetValue(task),
                Architecture = new TrainingArchitecture
                {
                    HiddenSizes = parse.GetValue(hidden)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
                    Activation = parse.GetValue(activation),
                },
                Hyperparameters = new TrainingHyperparameters
                {
                    Epochs = parse.GetValue(epochs),
                    BatchSize = parse.GetValue(batch),
                    LearningRate = parse.GetValue(lr),
                    Optimizer = parse.GetValue(optimizer),
                    Momentum = parse.GetValue(momentum),
                    WeightDecay = parse.GetValue(weightDecay),
                    Seed = parse.GetValue(seed),
                    ValidationFraction = parse.GetValue(validation),
                    EarlyStoppingPatience = parse.GetValue(patience),
                },
                Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
            }, ct);
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"uploaded [grey]{file.Name}[/] ({dataset.SizeBytes:N0} bytes) as dataset {dataset.Id}; submitted train job [bold]{jobId}[/]");
            if (parse.GetValue(noWait))
            {
                return 0;
            }

            JobView job;
            try
            {
                job = await TrainingProgressView.WatchAsync(client, jobId, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C: the job keeps running unless it is cancelled, so cancel it and say so.
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await client.CancelAsync(jobId, grace.Token);
                job = await client.WaitForCompletionAsync(jobId, grace.Token);
                AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"train job {jobId} is {job.Status.ToString().ToLowerInvariant()}");
                return CliApp.ExitCancelled;
            }

            await host.StopAsync(CancellationToken.None);
            return job.Status == JobStatus.Succeeded ? 0 : 1;
        });
        return command;
    }

    private static Command CancelCommand()
    {
        var jobId = new Argument<Guid>("job-id");
        var noWait = new Option<bool>("--no-wait") { Description = "return once the request is sent" };
        var command = new Command("cancel", "Cancel a job: a queued one never starts, a running train job stops within seconds") { jobId, noWait };
        command.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: true);
            await host.StartAsync(ct);
            var client = host.Services.GetRequiredService<IAiaasClient>();
            var id = parse.GetValue(jobId);
            await client.CancelAsync(id, ct);
            Console.WriteLine($"cancel requested for {id}");
            if (parse.GetValue(noWait))
            {
                return 0;
            }

            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct);
            waiting.CancelAfter(TimeSpan.FromSeconds(60));
            var job = await client.WaitForCompletionAsync(id, waiting.Token);
            Console.WriteLine($"job {id} is {job.Status.ToString().ToLowerInvariant()}{(job.Error is null ? "" : $": {job.Error}")}");
            await host.StopAsync(CancellationToken.None);
            return job.Status == JobStatus.Cancelled ? 0 : 1;
        });
        return command;
    }

    private static Command EventsCommand()
    {
        var jobId = new Argument<Guid>("job-id");
        var command = new Command("events", "Print a job's history (lifecycle and per-epoch metrics) as JSON") { jobId };
        command.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: false);
            var events = await host.Services.GetRequiredService<IAiaasClient>().GetJobEventsAsync(parse.GetValue(jobId), 0, ct);
            Console.WriteLine(JsonSerializer.Serialize(events, Pretty));
            return events.Count == 0 ? 2 : 0;
        });
        return command;
    }
}

/// <summary>A live view of a train job: a progress bar over epochs with the latest losses, then the outcome.</summary>
internal static class TrainingProgressView
{
    public static async Task<JobView> WatchAsync(IAiaasClient client, Guid jobId, CancellationToken cancellationToken)
    {
        JobEventView? lastEpoch = null;
        var notes = new List<JobEventView>();
        JobView job;
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            job = null!;
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var bar = context.AddTask("queued", maxValue: 1);
                    job = await PollAsync(client, jobId, e =>
                    {
                        lastEpoch = e;
                        bar.MaxValue = Math.Max(1, e.Epochs ?? 1);
                        bar.Value = e.Epoch ?? 0;
                        bar.Description = Markup.Escape(Describe(e));
                    }, e =>
                    {
                        notes.Add(e);
                        if (e.Type is JobEventTypes.Started or JobEventTypes.AttemptFailed or JobEventTypes.CancelRequested)
                        {
                            bar.Description = Markup.Escape($"{e.Type}{(e.Attempt is { } a ? $" (attempt {a})" : "")}");
                        }
                    }, cancellationToken);
                    if (job.Status == JobStatus.Succeeded)
                    {
                        bar.Value = bar.MaxValue; // early stopping ends before the last epoch
                    }

                    bar.StopTask();
                });
        }
        else
        {
            // Not a terminal (a log, CI): a line every two seconds at most, and the outcome below is the last word.
            var lastLine = System.Diagnostics.Stopwatch.StartNew();
            job = await PollAsync(client, jobId, e =>
            {
                lastEpoch = e;
                if (lastLine.Elapsed >= TimeSpan.FromSeconds(2))
                {
                    Console.WriteLine(Describe(e));
                    lastLine.Restart();
                }
            }, notes.Add, cancellationToken);
        }

        foreach (var note in notes.Where(n => n.Type is JobEventTypes.DataLoaded or JobEventTypes.AttemptFailed or JobEventTypes.Succeeded or JobEventTypes.Failed or JobEventTypes.Cancelled))
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[grey]{note.At:HH:mm:ss}[/] {note.Type}: {note.Message}");
        }

        var colour = job.Status switch { JobStatus.Succeeded => "green", JobStatus.Cancelled => "yellow", _ => "red" };
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
            $"train job {jobId}: [{colour}]{job.Status.ToString().ToLowerInvariant()}[/] on {job.Device ?? "?"}{(job.ModelVersion is { } v ? $", model {job.Model} v{v}" : "")}{(job.Error is null ? "" : $": {job.Error}")}");
        if (lastEpoch is not null)
        {
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"last epoch: {Describe(lastEpoch)}");
        }

        return job;
    }

    /// <summary>Reads the job's events as they come and hands epochs and other events on, until the job is final.</summary>
    private static async Task<JobView> PollAsync(IAiaasClient client, Guid jobId, Action<JobEventView> epoch, Action<JobEventView> other,
        CancellationToken cancellationToken)
    {
        long seen = 0;
        while (true)
        {
            foreach (var e in await client.GetJobEventsAsync(jobId, seen, cancellationToken))
            {
                seen = e.Sequence;
                (e.Type == JobEventTypes.Epoch ? epoch : other)(e);
            }

            if (await client.GetJobAsync(jobId, cancellationToken) is { Status: JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired } job)
            {
                return job;
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    private static string Describe(JobEventView e) =>
        FormattableString.Invariant($"epoch {e.Epoch}/{e.Epochs}  loss {e.TrainLoss:F4}  val loss {e.ValidationLoss:F4}")
        + (e.ValidationAccuracy is { } acc ? FormattableString.Invariant($"  val acc {acc:F3}") : "")
        + (e.ValidationRmse is { } rmse ? FormattableString.Invariant($"  val RMSE {rmse:G4}") : "")
        + FormattableString.Invariant($"  lr {e.LearningRate:G3}  {e.ElapsedSeconds:F1}s");
}
