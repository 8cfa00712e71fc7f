using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace AIaaS.Queue.Cli;

internal static partial class CliApp
{
    private static Command ScoreCommand()
    {
        var model = new Option<string>("--model", "-m") { Description = "NAME or NAME:VERSION", Required = true };
        var input = new Option<FileInfo>("--input", "-i") { Description = "JSON lines ({\"id\":..,\"features\":[..]}) or CSV with a header; .gz accepted", Required = true };
        var output = new Option<FileInfo>("--output", "-o") { Description = "where to write one JSON line per scored record", Required = true };
        var errors = new Option<FileInfo?>("--errors") { Description = "where to write the failed records with their reasons (default: OUTPUT.errors.jsonl)" };
        var chunkSize = new Option<int?>("--chunk-size") { Description = $"records per chunk (default {SubmitBulkJob.DefaultChunkSize})" };
        var window = new Option<int?>("--completion-window") { Description = "seconds; work not done by then is skipped and the job ends expired" };
        var command = new Command("score", "Score a file of records in bulk, with live progress; Ctrl+C cancels and keeps the partial output")
            { model, input, output, errors, chunkSize, window };
        var explain = new ExplainOptionsCli();
        explain.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var (name, version) = ParseModel(parse.GetValue(model)!);
            var inputFile = parse.GetValue(input)!;
            var outputFile = parse.GetValue(output)!;
            var errorsFile = parse.GetValue(errors) ?? new FileInfo(Path.ChangeExtension(outputFile.FullName, null) + ".errors.jsonl");
            using var host = ClientHost(parse, withBroker: false);
            await host.StartAsync(CancellationToken.None);
            var client = host.Services.GetRequiredService<IAiaasClient>();

            BulkJobView job;
            await using (var file = inputFile.OpenRead())
            {
                job = await client.SubmitBulkAsync(new BulkScoreRequest
                {
                    Model = name,
                    ModelVersion = version,
                    Input = file,
                    ChunkSize = parse.GetValue(chunkSize),
                    CompletionWindow = parse.GetValue(window) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
                    Explain = explain.Read(parse),
                }, ct);
            }

            Console.WriteLine($"bulk job {job.Id}: {inputFile.Name} ({inputFile.Length / 1024.0 / 1024.0:F1} MiB) uploaded, scoring with {name}");
            var cancelled = false;
            try
            {
                job = await WatchBulkAsync(client, job.Id, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.WriteLine("cancelling; the records scored so far are kept");
                cancelled = true;
                await client.CancelBulkAsync(job.Id, CancellationToken.None);
                job = await client.WaitForBulkAsync(job.Id, cancellationToken: CancellationToken.None);
            }

            await using (var destination = outputFile.Create())
            {
                await client.DownloadBulkResultsAsync(job.Id, destination, errors: false, CancellationToken.None);
            }

            await using (var destination = errorsFile.Create())
            {
                await client.DownloadBulkResultsAsync(job.Id, destination, errors: true, CancellationToken.None);
            }

            var counts = job.Counts;
            var timing = job.StartedAt is { } started && job.CompletedAt is { } completed && completed > started
                ? string.Create(CultureInfo.InvariantCulture,
                    $" in {(completed - started).TotalSeconds:F1} s ({(counts.Succeeded + counts.Failed) / (completed - started).TotalSeconds:N0} records/s)")
                : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{job.Status.ToString().ToLowerInvariant()}: {counts.Succeeded:N0} scored → {outputFile.Name}, {counts.Failed:N0} failed → {errorsFile.Name}, of {counts.Total:N0} records{timing}"));
            if (job.Error is not null)
            {
                await Console.Error.WriteLineAsync(job.Error);
            }

            return cancelled ? CliApp.ExitCancelled : job.Status == BulkJobStatus.Succeeded ? 0 : 1;
        });
        return command;
    }

    /// <summary>Shows the job's progress until it is final: a live bar with rate and time left on a terminal, a line every
    /// two seconds otherwise (a log, CI).</summary>
    private static async Task<BulkJobView> WatchBulkAsync(IAiaasClient client, Guid bulkJobId, CancellationToken cancellationToken)
    {
        var rate = new RateMeter();
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var lastLine = Stopwatch.StartNew();
            return await client.WaitForBulkAsync(bulkJobId, new Progress<BulkJobView>(job =>
            {
                rate.Observe(job);
                if (lastLine.Elapsed >= TimeSpan.FromSeconds(2) || job.IsFinal)
                {
                    Console.WriteLine(rate.Describe(job));
                    lastLine.Restart();
                }
            }), cancellationToken);
        }

        BulkJobView? final = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask("validating", maxValue: 1);
                final = await client.WaitForBulkAsync(bulkJobId, new Progress<BulkJobView>(job =>
                {
                    rate.Observe(job);
                    task.MaxValue = Math.Max(1, job.Counts.Total);
                    task.Value = job.Counts.Succeeded + job.Counts.Failed;
                    task.Description = Markup.Escape(rate.Describe(job));
                }), cancellationToken);
                task.StopTask();
            });
        return final!;
    }

    /// <summary>Records per second over the last few seconds, and the time left at that rate.</summary>
    private sealed class RateMeter
    {
        private readonly Queue<(TimeSpan At, long Done)> _samples = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public double RecordsPerSecond { get; private set; }

        public void Observe(BulkJobView job)
        {
            var done = job.Counts.Succeeded + job.Counts.Failed;
            _samples.Enqueue((_clock.Elapsed, done));
            while (_samples.Count > 2 && _clock.Elapsed - _samples.Peek().At > TimeSpan.FromSeconds(5))
            {
                _samples.Dequeue();
            }

            var (at, first) = _samples.Peek();
            var seconds = (_clock.Elapsed - at).TotalSeconds;
            RecordsPerSecond = seconds > 0 ? (done - first) / seconds : 0;
        }

        public string Describe(BulkJobView job)
        {
            var counts = job.Counts;
            var done = counts.Succeeded + counts.Failed;
            var total = job.ChunksTotal is null ? $"{counts.Total:N0}+" : $"{counts.Total:N0}";
            var eta = RecordsPerSecond > 0 && job.ChunksTotal is not null && !job.IsFinal
                ? $", ETA {TimeSpan.FromSeconds(Math.Ceiling((counts.Total - done) / RecordsPerSecond)):mm\\:ss}"
                : "";
            return string.Create(CultureInfo.InvariantCulture,
                $"{job.Status.ToString().ToLowerInvariant()} {done:N0}/{total} records, {counts.Failed:N0} failed, {RecordsPerSecond:N0} records/s{eta}");
        }
    }
}
