using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// Figure 14: what the embedded store's writes cost per predict job, alone in this process on a file of its own: a job
/// completed without a queued record (one insert) against one registered as queued (the registry's insert, 80 a write)
/// and then completed (an update, 64 a write, as batches do). Figure 2 found the default waiting on the store's single
/// writer; this says how much of that the registration costs. Alternated rounds of 3,200 jobs each; medians.
/// </summary>
internal static class StoreFigure
{
    private const int JobsPerRound = 3_200;

    public static async Task RunAsync(Report report, int rounds, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"aiaas-store-figure-{Guid.NewGuid():N}.db");
        try
        {
            using var database = new SqliteDatabase(path);
            var store = new SqliteJobStore(database);
            await CompleteNewAsync(store, 640, cancellationToken); // the schema, the statements, JIT
            var unrecorded = new List<double>();
            var recorded = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                unrecorded.Add(await CompleteNewAsync(store, JobsPerRound, cancellationToken));
                recorded.Add(await RegisterThenCompleteAsync(store, JobsPerRound, cancellationToken));
            }

            var (alone, both) = (Median(unrecorded), Median(recorded));
            report.Figure("14. embedded store, µs of writes per predict job: registered as queued, then completed / completed without a queued record",
                string.Create(CultureInfo.InvariantCulture,
                    $"{both:F0} vs {alone:F0} µs (medians of {rounds} alternated rounds of {JobsPerRound:N0} jobs: {string.Join(", ", recorded.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))} vs {string.Join(", ", unrecorded.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))})"),
                both / alone, null);
        }
        finally
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    private static async Task<double> CompleteNewAsync(IJobStore store, int jobs, CancellationToken cancellationToken)
    {
        var ids = NewIds(jobs);
        var stopwatch = Stopwatch.StartNew();
        foreach (var batch in ids.Chunk(64))
        {
            await store.CompleteAsync([.. batch.Select(Completed)], cancellationToken);
        }

        return stopwatch.Elapsed.TotalMicroseconds / jobs;
    }

    private static async Task<double> RegisterThenCompleteAsync(IJobStore store, int jobs, CancellationToken cancellationToken)
    {
        var ids = NewIds(jobs);
        var stopwatch = Stopwatch.StartNew();
        foreach (var group in ids.Chunk(80))
        {
            await store.InsertIfAbsentAsync([.. group.Select(Queued)], cancellationToken);
        }

        foreach (var batch in ids.Chunk(64))
        {
            await store.CompleteAsync([.. batch.Select(Completed)], cancellationToken);
        }

        return stopwatch.Elapsed.TotalMicroseconds / jobs;
    }

    private static List<(Guid Id, DateTimeOffset SubmittedAt)> NewIds(int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (Guid.CreateVersion7(), DateTimeOffset.UtcNow))];

    private static JobRecord Queued((Guid Id, DateTimeOffset SubmittedAt) job) => new()
    {
        JobId = job.Id,
        TenantId = "default",
        Kind = JobKind.Predict,
        Model = "store-figure",
        Status = JobStatus.Queued,
        SubmittedAt = job.SubmittedAt,
    };

    // A one-record result of a 3-class model, as the quickstart's jobs store.
    private static readonly JsonElement Probabilities = JsonSerializer.SerializeToElement(new[] { 0.1f, 0.2f, 0.7f });

    private static JobRecord Completed((Guid Id, DateTimeOffset SubmittedAt) job) => Queued(job) with
    {
        ModelVersion = 1,
        Status = JobStatus.Succeeded,
        StartedAt = DateTimeOffset.UtcNow,
        CompletedAt = DateTimeOffset.UtcNow,
        Device = "cpu",
        BatchSize = 64,
        BatchId = "store-figure",
        WorkerId = "store-figure",
        Outputs = [new InferTensor { Name = "output", Datatype = "FP32", Shape = [1, 3], Data = Probabilities }],
    };

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
