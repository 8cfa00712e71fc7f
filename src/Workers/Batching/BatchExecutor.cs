using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// Runs one formed batch: skips jobs that already ended (a redelivery, a repeated JobId), calls the model once,
/// stores every result in one bulk write and only then lets the consumers acknowledge their messages.
/// </summary>
internal sealed class BatchExecutor(
    IJobStore jobs,
    IBus bus,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    AiaasMetrics metrics,
    IHostApplicationLifetime lifetime,
    StoreOutage outage,
    ResponseCache responses,
    ResultWriter writer,
    ILogger<BatchExecutor> logger)
{
    public AiaasMetrics Metrics => metrics;

    /// <summary>Runs the batch and stores its results, then lets every consumer acknowledge; should anything fail before
    /// the results are stored, nothing is acknowledged: the consumers fail and the broker redelivers, so no job is lost.
    /// <paramref name="modelCallDone"/> is called once the model call is done and before the results are stored: the
    /// batcher may give the model instance back then, so that the next batch runs while this one is stored
    /// (<see cref="WorkerOptions.PipelinedResultWrites"/>).</summary>
    public async Task ExecuteAsync(LoadedModel model, List<PendingPrediction> batch, Action modelCallDone)
    {
        var events = new List<object>();
        try
        {
            var startedAt = time.GetUtcNow();
            using var activity = StartBatchActivity(model, batch);
            var stage = Stopwatch.GetTimestamp();
            var toRun = await WithoutFinishedJobsAsync(batch).ConfigureAwait(false);
            metrics.StageTimed("batch.store_read", Stopwatch.GetElapsedTime(stage));
            toRun = await WithoutExpiredJobsAsync(model, toRun, events).ConfigureAwait(false);
            if (toRun.Count > 0)
            {
                stage = Stopwatch.GetTimestamp();
                var run = await RunAsync(model, toRun, startedAt).ConfigureAwait(false);
                metrics.StageTimed("batch.model", Stopwatch.GetElapsedTime(stage));
                modelCallDone();

                stage = Stopwatch.GetTimestamp();
                var stored = await StoreAsync(model, run).ConfigureAwait(false);
                metrics.StageTimed("batch.store_write", Stopwatch.GetElapsedTime(stage));
                responses.Fill(toRun, run.Records, stored);
                Record(model, [.. stored.Select(i => toRun[i])], [.. stored.Select(i => run.Records[i])], run.BatchId, startedAt, activity);
                // One event per tenant, routed by it (ClientEventRouting); a model is one tenant's, so this is one event.
                events.AddRange(stored.GroupBy(i => run.Records[i].TenantId).Select(jobs => CompletedEvent(model, run, jobs.Key, [.. jobs])));
            }

            foreach (var prediction in batch)
            {
                prediction.Stored();
            }
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Batch of {Count} for {Model} v{Version} could not be completed", batch.Count, model.Name, model.Version);
            foreach (var prediction in batch)
            {
                prediction.Abandon(ex);
            }

            return;
        }

        // Only once the messages may be acknowledged, never before (see StoredEventPublisher), and without holding the
        // model instance this batch runs on: after a broker restart a publish stalled on a topology declaration for its
        // whole timeout, and awaiting it here let the worker run one batch per 10 s for minutes.
        StoredEventPublisher.PublishInBackground(bus, events, logger, time, lifetime.ApplicationStopping);
    }

    /// <summary>One model call over the batch, and the job records of its outcomes.</summary>
    private async Task<BatchRun> RunAsync(LoadedModel model, List<PendingPrediction> toRun, DateTimeOffset startedAt)
    {
        var stopwatch = Stopwatch.StartNew();
        var (outcomes, paddingEfficiency) = await Task.Run(() => RunIsolating(model, toRun)).ConfigureAwait(false);
        var modelMilliseconds = stopwatch.Elapsed.TotalMilliseconds;
        metrics.BatchCompleted(model.Name, model.Device, toRun.Count, stopwatch.Elapsed, model.IsPadded ? paddingEfficiency : null);
        var batchId = $"{options.Value.WorkerId}-{Guid.NewGuid():N}";
        var completedAt = time.GetUtcNow();
        var records = new JobRecord[toRun.Count];
        for (var i = 0; i < toRun.Count; i++)
        {
            records[i] = Outcome(toRun[i].Job, toRun[i].TenantId, model, outcomes[i].Outputs, outcomes[i].Error, startedAt, completedAt,
                options.Value.WorkerId) with { BatchSize = toRun.Count, BatchId = batchId };
        }

        return new BatchRun(toRun, records, batchId, completedAt, paddingEfficiency, modelMilliseconds);
    }

    /// <summary>The final record of a predict job that ran on <paramref name="model"/>: succeeded with its outputs, or
    /// failed with the reason. Batches and explanations (<see cref="Explanations.ExplanationRunner"/>) end jobs alike.</summary>
    internal static JobRecord Outcome(SubmitPredictJob job, string tenantId, LoadedModel model, IReadOnlyList<InferTensor>? outputs,
        string? error, DateTimeOffset startedAt, DateTimeOffset completedAt, string workerId) => new()
    {
        JobId = job.JobId,
        TenantId = tenantId,
        Kind = JobKind.Predict,
        Model = model.Name,
        ModelVersion = model.Version,
        Status = error is null ? JobStatus.Succeeded : JobStatus.Failed,
        SubmittedAt = job.SubmittedAt,
        StartedAt = startedAt,
        CompletedAt = completedAt,
        Device = model.Device,
        BatchSize = 1,
        WorkerId = workerId,
        Error = error,
        CallbackUrl = job.CallbackUrl,
        Outputs = outputs,
    };

    /// <summary>Writes every result in one bulk write (waiting out a store outage) and answers the indexes written. A job
    /// that another worker finished meanwhile keeps that result; this batch reports only what it wrote.</summary>
    private async Task<int[]> StoreAsync(LoadedModel model, BatchRun run)
    {
        var records = run.Records;
        var written = options.Value.PipelinedResultWrites
            ? await writer.CompleteAsync(records).ConfigureAwait(false)
            : await outage.WriteAsync(() => jobs.CompleteAsync(records), $"{records.Length} results of {model.Name} v{model.Version}").ConfigureAwait(false);
        var stored = Enumerable.Range(0, records.Length).Where(i => written.Contains(JobKey.Of(records[i]))).ToArray();
        if (stored.Length < records.Length)
        {
            logger.LogInformation("{Count} jobs of batch {BatchId} were already finished elsewhere; their results were not written again",
                records.Length - stored.Length, run.BatchId);
        }

        return stored;
    }

    private PredictBatchCompleted CompletedEvent(LoadedModel model, BatchRun run, string tenantId, int[] stored) => new()
    {
        BatchId = run.BatchId,
        TenantId = tenantId,
        Model = model.Name,
        ModelVersion = model.Version,
        Device = model.Device,
        WorkerId = options.Value.WorkerId,
        BatchSize = run.Records.Length,
        Rows = run.Predictions.Sum(p => p.Request.Rows),
        PaddingEfficiency = run.PaddingEfficiency,
        ModelMilliseconds = run.ModelMilliseconds,
        CompletedAt = run.CompletedAt,
        Jobs = stored.Select(i => new JobOutcome
        {
            JobId = run.Records[i].JobId,
            Status = run.Records[i].Status,
            Error = run.Records[i].Error,
        }).ToArray(),
    };

    /// <summary>A batch after its model call: the jobs run, their records (same order) and the call's figures.</summary>
    private sealed record BatchRun(List<PendingPrediction> Predictions, JobRecord[] Records, string BatchId, DateTimeOffset CompletedAt,
        double PaddingEfficiency, double ModelMilliseconds);

    /// <summary>One span per model call, linked to the consume span of every job in it (a batch has many parents).</summary>
    private static Activity? StartBatchActivity(LoadedModel model, List<PendingPrediction> batch)
    {
        if (!AiaasTelemetry.Source.HasListeners())
        {
            return null;
        }

        var links = new List<ActivityLink>(batch.Count);
        foreach (var prediction in batch)
        {
            if (prediction.TraceContext != default)
            {
                links.Add(new ActivityLink(prediction.TraceContext));
            }
        }

        // The batcher's loop inherited the first job's consume span as its ambient activity: a batch is not its child.
        Activity.Current = null;
        var activity = AiaasTelemetry.Source.StartActivity("predict batch", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("aiaas.model", model.Name);
        activity?.SetTag("aiaas.model.version", model.Version);
        activity?.SetTag("aiaas.device", model.Device);
        activity?.SetTag("aiaas.batch.size", batch.Count);
        return activity;
    }

    /// <summary>Metrics per job, and a span per job under its own consume span that covers its wait in the batcher,
    /// the model call and the store write, so that one job's trace runs from the SDK's publish to its stored result.</summary>
    private void Record(LoadedModel model, List<PendingPrediction> toRun, JobRecord[] records, string batchId, DateTimeOffset startedAt, Activity? batchActivity)
    {
        batchActivity?.SetTag("aiaas.batch.id", batchId);
        var now = time.GetUtcNow();
        for (var i = 0; i < toRun.Count; i++)
        {
            var record = records[i];
            metrics.JobStarted(model.Name, startedAt - record.SubmittedAt);
            metrics.JobCompleted("Predict", model.Name, record.Status.ToString());
            var parent = toRun[i].TraceContext;
            if (parent == default || !AiaasTelemetry.Source.HasListeners())
            {
                continue;
            }

            var enqueuedAt = now - Stopwatch.GetElapsedTime(toRun[i].EnqueuedAt);
            using var job = AiaasTelemetry.Source.StartActivity("predict job", ActivityKind.Internal, parent,
                links: batchActivity is null ? null : [new ActivityLink(batchActivity.Context)], startTime: enqueuedAt);
            if (job is null)
            {
                continue;
            }

            job.SetTag("aiaas.job.id", record.JobId.ToString());
            job.SetTag("aiaas.job.status", record.Status.ToString());
            job.SetTag("aiaas.batch.id", batchId);
            job.SetTag("aiaas.batch.size", toRun.Count);
            job.SetTag("aiaas.worker.id", record.WorkerId);
            if (record.Error is not null)
            {
                job.SetStatus(ActivityStatusCode.Error, record.Error);
            }

            job.SetEndTime(now.UtcDateTime);
        }
    }

    /// <summary>Second check of the time-to-live, once the batch is formed: a job that expired while waiting for a model
    /// instance ends expired (stored before its message is acknowledged) and is left out of the model call.</summary>
    private async Task<List<PendingPrediction>> WithoutExpiredJobsAsync(LoadedModel model, List<PendingPrediction> toRun, List<object> events)
    {
        var now = time.GetUtcNow();
        if (!toRun.Exists(p => p.Job.ExpiresAt <= now))
        {
            return toRun;
        }

        var expired = toRun.FindAll(p => p.Job.ExpiresAt <= now);
        var written = await jobs.CompleteAsync(expired.Select(p => new JobRecord
        {
            JobId = p.Job.JobId,
            TenantId = p.TenantId,
            Kind = JobKind.Predict,
            Model = model.Name,
            ModelVersion = model.Version,
            Status = JobStatus.Expired,
            SubmittedAt = p.Job.SubmittedAt,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            Error = Consumers.PredictJobConsumer.ExpiredError(p.Job.ExpiresAt!.Value),
            CallbackUrl = p.Job.CallbackUrl,
        }).ToArray()).ConfigureAwait(false);
        foreach (var prediction in expired.Where(p => written.Contains(p.Key)))
        {
            metrics.JobCompleted("Predict", model.Name, nameof(JobStatus.Expired));
            events.Add(new JobFailed
            {
                JobId = prediction.Job.JobId,
                Kind = JobKind.Predict,
                Model = model.Name,
                Error = Consumers.PredictJobConsumer.ExpiredError(prediction.Job.ExpiresAt!.Value),
                Status = JobStatus.Expired,
                FailedAt = now,
                TenantId = prediction.TenantId,
            });
        }

        return toRun.FindAll(p => !(p.Job.ExpiresAt <= now));
    }

    private async Task<List<PendingPrediction>> WithoutFinishedJobsAsync(List<PendingPrediction> batch)
    {
        var keys = new HashSet<JobKey>(batch.Count);
        foreach (var prediction in batch)
        {
            keys.Add(prediction.Key);
        }

        var stored = (await jobs.GetManyAsync(keys, includeOutputs: false).ConfigureAwait(false)).ToDictionary(JobKey.Of);
        var toRun = new List<PendingPrediction>(keys.Count);
        foreach (var prediction in batch)
        {
            // A finished job is not run again; ids are per tenant, so another tenant's job under the same id is no concern.
            // Remove as we go so that a job repeated inside one batch runs once.
            var key = prediction.Key;
            if (stored.GetValueOrDefault(key) is { IsFinal: true })
            {
                continue;
            }

            if (keys.Remove(key))
            {
                toRun.Add(prediction);
            }
        }

        return toRun;
    }

    /// <summary>Runs the batch in one model call (see <see cref="IsolatedRun"/>: one bad request fails only its own job), and
    /// converts each answer to the protocol's form, the only place it is.</summary>
    private ((IReadOnlyList<InferTensor>? Outputs, string? Error)[] Outcomes, double PaddingEfficiency) RunIsolating(
        LoadedModel model, List<PendingPrediction> batch)
    {
        var (outcomes, efficiency) = IsolatedRun.Run(model, batch.ConvertAll(p => p.Request), "input",
            ex => logger.LogWarning(ex, "Batch of {Count} for {Model} failed; running its requests one by one", batch.Count, model.Name));
        var converted = new (IReadOnlyList<InferTensor>?, string?)[outcomes.Length];
        for (var i = 0; i < outcomes.Length; i++)
        {
            converted[i] = outcomes[i].Outputs is { } outputs
                ? (Array.ConvertAll(outputs, o => o.ToInferTensor()), null)
                : (null, outcomes[i].Error);
        }

        return (converted, efficiency);
    }
}
