using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Store;
using AIaaS.Queue.Training;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Training;

/// <summary>
/// Runs train jobs claimed from the store, one child process each: writes the request and data to a working folder,
/// starts the child, turns its stdout lines into job events, renews the job's lease, and ends the child on cancel or
/// timeout. On success it registers the ONNX model (idempotently, keyed by the job id) and then finishes the job.
/// A child that dies without a result gives the job back for another attempt, up to <see cref="TrainingOptions.MaxAttempts"/>.
/// </summary>
internal sealed partial class TrainingRunner(
    IServiceProvider services,
    ITrainingQueue training,
    IJobEventStore events,
    IDatasetStore datasets,
    IModelStore models,
    TrainingChildLauncher launcher,
    IOptions<TrainingOptions> trainingOptions,
    IOptions<WorkerOptions> workerOptions,
    TimeProvider time,
    ILogger<TrainingRunner> logger) : BackgroundService
{

    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly ConcurrentDictionary<JobKey, CancellationTokenSource> _running = new();
    private readonly TrainingOptions _options = trainingOptions.Value;
    private string WorkerId => workerOptions.Value.WorkerId;

    /// <summary>Look for queued work now rather than at the next poll.</summary>
    public void Wake() => _wake.Release();

    /// <summary>Ends the child of a job this worker runs; false when it runs elsewhere (its worker sees the store's flag).</summary>
    public bool CancelLocal(string tenantId, Guid jobId)
    {
        if (_running.TryGetValue(new JobKey(tenantId, jobId), out var cancel))
        {
            cancel.Cancel();
            return true;
        }

        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        logger.LogInformation("Train jobs: up to {Jobs} at once, child started with {Launcher}", _options.MaxConcurrentJobs, launcher.Description);
        var slots = new SemaphoreSlim(_options.MaxConcurrentJobs, _options.MaxConcurrentJobs);
        var tasks = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
            TrainJobClaim? claim = null;
            var settled = new List<SettledTrainJob>();
            try
            {
                claim = await training.ClaimTrainJobAsync(WorkerId, _options.Lease, _options.MaxAttempts, settled, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not look for train jobs; trying again");
            }

            foreach (var ended in settled)
            {
                // Out of attempts, or cancelled while its worker was gone: ended by the store on the way to a claim.
                await AnnounceAsync(ended.Request, ended.Status, null, ended.Error, null).ConfigureAwait(false);
            }

            if (claim is null)
            {
                slots.Release();
                try
                {
                    await _wake.WaitAsync(_options.PollInterval, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            tasks.RemoveAll(t => t.IsCompleted);
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await RunAsync(claim, stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None));
        }

        // Children are ended on shutdown; their jobs' leases run out and another worker takes them over.
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task RunAsync(TrainJobClaim claim, CancellationToken stoppingToken)
    {
        var job = claim.Request;
        var key = KeyOf(job);

        // Two tenants may each run a train job of one id: the directory names the tenant too (by a hash: a tenant id need
        // not be a valid file name).
        var directory = Path.Combine(_options.WorkDirectory, $"{TenantDirectoryPart(key.TenantId)}-{job.JobId:N}-{claim.Attempt}");
        using var cancel = new CancellationTokenSource();
        _running[key] = cancel;
        try
        {
            await RunAttemptAsync(claim, directory, cancel, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Train job {JobId} failed in the worker", job.JobId);
            await FinishAsync(job, JobStatus.Failed, null, null, $"The worker failed running the job: {ex.Message}", null).ConfigureAwait(false);
        }
        finally
        {
            _running.TryRemove(key, out _);
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private async Task RunAttemptAsync(TrainJobClaim claim, string directory, CancellationTokenSource cancel, CancellationToken stoppingToken)
    {
        var job = claim.Request;

        // An earlier attempt may have registered the model and died before finishing the job: the model stands.
        if (await models.GetVersionByTrainingJobAsync(job.Model, job.JobId, stoppingToken).ConfigureAwait(false) is { } registered)
        {
            await FinishAsync(job, JobStatus.Succeeded, registered.Version, registered.Training?.Device, null, registered.Training?.Metrics).ConfigureAwait(false);
            return;
        }

        if (await PrepareAsync(job, directory, stoppingToken).ConfigureAwait(false) is not { } input)
        {
            return; // the job failed on its data
        }

        using var child = new TrainingChildSession(launcher.CreateStartInfo(
            ["--job", job.JobId.ToString(), "--spec", input.SpecPath, "--data", input.DataPath, "--out", Path.Combine(directory, "out")]), logger);
        child.Start();
        logger.LogInformation("Train job {JobId} attempt {Attempt}: training process {Pid} started", job.JobId, claim.Attempt, child.ProcessId);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(job.TimeoutSeconds));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token, timeout.Token, stoppingToken);
        using var kill = child.KillOn(stop.Token);
        var heartbeat = new TrainLeaseHeartbeat(training, events, KeyOf(job), WorkerId, _options, cancel, logger);
        heartbeat.Start(stop.Token);
        var (result, device) = await FollowAsync(job, child, heartbeat).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await heartbeat.StopAsync().ConfigureAwait(false);

        if (stoppingToken.IsCancellationRequested && result is null)
        {
            return; // shutting down: the lease runs out and the job is taken over
        }

        if (heartbeat.LostLease)
        {
            logger.LogWarning("Train job {JobId}: lease lost to another worker; this attempt's result is dropped", job.JobId);
            return;
        }

        if (result?.Type != ChildMessageTypes.Succeeded && (cancel.IsCancellationRequested || timeout.IsCancellationRequested))
        {
            await FinishAsync(job, cancel.IsCancellationRequested ? JobStatus.Cancelled : JobStatus.Failed, null, device,
                cancel.IsCancellationRequested ? "cancelled while training"
                    : $"Timed out: training took longer than the job's {job.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s limit",
                null).ConfigureAwait(false);
            return;
        }

        await SettleAsync(claim, input.Fingerprint, result, device, child).ConfigureAwait(false);
    }

    /// <summary>The spec and data files the child reads, and the data's fingerprint; null (the job failed) when the data
    /// cannot be written.</summary>
    private async Task<AttemptInput?> PrepareAsync(SubmitTrainJob job, string directory, CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(directory);
        var specPath = Path.Combine(directory, "spec.json");
        await File.WriteAllTextAsync(specPath, JsonSerializer.Serialize(job, WireJson.Options), stoppingToken).ConfigureAwait(false);
        string dataPath;
        try
        {
            dataPath = await WriteDataAsync(job, directory, stoppingToken).ConfigureAwait(false);
        }
        catch (KeyNotFoundException ex)
        {
            await FinishAsync(job, JobStatus.Failed, null, null, $"Invalid training data: {ex.Message}", null).ConfigureAwait(false);
            return null;
        }

        return new AttemptInput(specPath, dataPath, await FingerprintAsync(dataPath, stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Turns the child's messages into job events (written by the heartbeat) and progress events, until it exits;
    /// answers its result message, if any, and the device it reported.</summary>
    private async Task<(ChildMessage? Result, string? Device)> FollowAsync(SubmitTrainJob job, TrainingChildSession child, TrainLeaseHeartbeat heartbeat)
    {
        var bus = services.GetService<IBus>();
        ChildMessage? result = null;
        string? device = null;
        await child.ReadMessagesAsync(message =>
        {
            var at = time.GetUtcNow();
            if (ChildMessageMapper.ToJobEvent(message, at) is { } jobEvent)
            {
                heartbeat.Add(jobEvent);
            }

            if (bus is not null && ChildMessageMapper.ToProgress(job.JobId, message, at) is { } progress)
            {
                _ = StoredEventPublisher.PublishAsync(bus, progress, logger, CancellationToken.None);
            }

            if (ChildMessageMapper.IsResult(message))
            {
                result = message;
                device = message.Device ?? device;
            }
        }).ConfigureAwait(false);
        return (result, device);
    }

    /// <summary>The end of an attempt that was neither cancelled nor timed out: registered, failed for good, or (the child
    /// died without a result) handed back for another attempt while attempts remain.</summary>
    private async Task SettleAsync(TrainJobClaim claim, string fingerprint, ChildMessage? result, string? device, TrainingChildSession child)
    {
        var job = claim.Request;
        if (result is { Type: ChildMessageTypes.Succeeded, OnnxPath: { } onnxPath })
        {
            await RegisterAsync(job, fingerprint, result, onnxPath, device ?? "cpu").ConfigureAwait(false);
            return;
        }

        if (result is { Type: ChildMessageTypes.Failed })
        {
            // Bad data, a missing native library or a bug give the same answer every time: no retry.
            await FinishAsync(job, JobStatus.Failed, null, device, result.Reason ?? "training failed", null).ConfigureAwait(false);
            return;
        }

        var reason = child.ExitReason(claim.Attempt);
        if (claim.Attempt < _options.MaxAttempts)
        {
            await events.AppendJobEventsAsync(KeyOf(job).TenantId, job.JobId,
                [new JobEventView { Sequence = 0, Type = JobEventTypes.AttemptFailed, At = time.GetUtcNow(), Attempt = claim.Attempt, Message = reason + "; retrying" }],
                CancellationToken.None).ConfigureAwait(false);
            await training.ReleaseTrainJobAsync(KeyOf(job).TenantId, job.JobId, WorkerId, reason, CancellationToken.None).ConfigureAwait(false);
            Wake();
        }
        else
        {
            await FinishAsync(job, JobStatus.Failed, null, device, $"Gave up after {claim.Attempt} attempt(s): {reason}", null).ConfigureAwait(false);
        }
    }

    private sealed record AttemptInput(string SpecPath, string DataPath, string Fingerprint);

    private async Task RegisterAsync(SubmitTrainJob job, string fingerprint, ChildMessage result, string onnxPath, string device)
    {
        var signature = OnnxModelInspector.Inspect(onnxPath);
        var metrics = result.Metrics ?? new Dictionary<string, double>();
        ModelVersionRecord version;
        await using (var file = File.OpenRead(onnxPath))
        {
            version = await models.AddVersionAsync(new NewModelVersion
            {
                Name = job.Model,
                Inputs = signature.Inputs,
                Outputs = signature.Outputs,
                Description = $"trained by job {job.JobId}",
                Training = new ModelTrainingInfo
                {
                    TrainingJobId = job.JobId,
                    DatasetFingerprint = fingerprint,
                    Task = job.Task,
                    LabelColumn = job.LabelColumn,
                    FeatureColumns = result.FeatureColumns ?? [],
                    ClassLabels = result.ClassLabels,
                    Architecture = job.Architecture,
                    Hyperparameters = job.Hyperparameters,
                    Metrics = metrics,
                    Device = device,
                },
                Background = result.Background,
            }, file, CancellationToken.None).ConfigureAwait(false);
        }

        await FinishAsync(job, JobStatus.Succeeded, version.Version, device, null, metrics).ConfigureAwait(false);
    }

    /// <summary>A queued request names its tenant (the consumer set it from the verified sender): with the id, the job's key.</summary>
    private static JobKey KeyOf(SubmitTrainJob job) => new(Tenants.OrDefault(job.Sender?.TenantId), job.JobId);

    private static string TenantDirectoryPart(string tenantId) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(tenantId)).AsSpan(0, 8));

    private async Task FinishAsync(SubmitTrainJob job, JobStatus status, int? version, string? device, string? error,
        IReadOnlyDictionary<string, double>? metrics)
    {
        var message = status switch
        {
            JobStatus.Succeeded => $"registered {job.Model} version {version}"
                + (metrics is not null && metrics.TryGetValue("val_accuracy", out var accuracy) ? FormattableString.Invariant($", val accuracy {accuracy:0.###}") : "")
                + (metrics is not null && metrics.TryGetValue("val_rmse", out var rmse) ? FormattableString.Invariant($", val RMSE {rmse:G4}") : ""),
            _ => error,
        };
        if (!await training.FinishTrainJobAsync(KeyOf(job).TenantId, job.JobId, WorkerId, status, version, device, error, message, CancellationToken.None).ConfigureAwait(false))
        {
            return; // the job moved to another worker meanwhile; that worker reports it
        }

        logger.LogInformation("Train job {JobId} {Status}: {Message}", job.JobId, status, message);
        await AnnounceAsync(job, status, version, error, metrics).ConfigureAwait(false);
    }

    /// <summary>Publishes a train job's end (webhooks and waiting clients listen for it).</summary>
    private async Task AnnounceAsync(SubmitTrainJob job, JobStatus status, int? version, string? error, IReadOnlyDictionary<string, double>? metrics)
    {
        if (services.GetService<IBus>() is { } bus)
        {
            await StoredEventPublisher.PublishAsync(bus, new TrainJobFinished
            {
                JobId = job.JobId,
                Model = job.Model,
                Status = status,
                ModelVersion = version,
                Error = error,
                Metrics = metrics,
                FinishedAt = time.GetUtcNow(),
                TenantId = Tenants.OrDefault(job.Sender?.TenantId),
            }, logger, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<string> WriteDataAsync(SubmitTrainJob job, string directory, CancellationToken cancellationToken)
    {
        if (job.Dataset.FileId is { } fileId)
        {
            var path = Path.Combine(directory, "data");
            await using var file = File.Create(path);
            await datasets.CopyDatasetToAsync(Tenants.OrDefault(job.Sender?.TenantId), fileId, file, cancellationToken).ConfigureAwait(false);
            return path;
        }

        // Inline rows become a CSV file, so the child reads one format and the fingerprint covers exactly what it read.
        var csv = Path.Combine(directory, "data.csv");
        await using (var file = File.Create(csv))
        {
            InlineRowsCsv.Write(file, job.Dataset.Columns!, job.Dataset.Rows!);
        }

        return csv;
    }

    private static async Task<string> FingerprintAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
    }
}
