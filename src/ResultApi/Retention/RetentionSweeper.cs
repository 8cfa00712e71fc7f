using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Retention;

/// <summary>
/// Deletes what has outlived its tenant's retention (<see cref="RetentionOptions"/>), every
/// <see cref="RetentionOptions.SweepInterval"/>. A sweep runs under a lease in the store, so with many API instances one
/// sweeps and the others skip; it works in steps of at most <see cref="RetentionOptions.BatchSize"/> items, each one short
/// write, with a pause between them in which the hot path's writes go first, and renews its lease between steps. Then it
/// gives freed space back (embedded store) and stores its report for the dashboard.
/// </summary>
public sealed partial class RetentionSweeper(
    IRetentionStore store, ITenantStore tenants, IOptions<RetentionOptions> options, TimeProvider time, ILogger<RetentionSweeper> logger)
    : BackgroundService
{
    public const string LeaseName = "retention-sweeper";

    // Long enough for any one step; a sweeper that died frees the lease this long after its last step.
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromMinutes(2);

    private readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.ExpiresAnything)
        {
            LogNothingToExpire(logger);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The store did not answer (not even for the lease or the report); the next sweep starts over, as every
                // step is idempotent.
                LogSweepFailed(logger, ex);
            }

            await Task.Delay(options.Value.SweepInterval, time, stoppingToken);
        }
    }

    /// <summary>Runs one sweep if this instance gets the lease; returns its report, or null when another instance holds it.</summary>
    public async Task<SweepReport?> SweepOnceAsync(CancellationToken cancellationToken)
    {
        if (!await store.TryAcquireLeaseAsync(LeaseName, _owner, LeaseDuration, cancellationToken))
        {
            return null;
        }

        var sweep = new Sweep(time.GetUtcNow(), _owner);
        try
        {
            foreach (var tenant in await tenants.ListTenantsAsync(cancellationToken))
            {
                await SweepTenantAsync(sweep, tenant.Id, options.Value.For(tenant.Id), cancellationToken);
            }

            sweep.ReclaimedBytes = await store.ReclaimSpaceAsync(options.Value.ReclaimBytesPerSweep, cancellationToken);
        }
        catch (LeaseLostException)
        {
            sweep.Error = "The lease was lost to another instance; it carries on.";
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // What was removed before the failure stays removed and is reported; the next sweep carries on from there.
            sweep.Error = $"The sweep stopped early: {ex.Message}";
            LogSweepFailed(logger, ex);
        }
        finally
        {
            await store.ReleaseLeaseAsync(LeaseName, _owner, CancellationToken.None);
        }

        var report = sweep.ToReport(time.GetUtcNow());
        await store.SaveSweepReportAsync(report, cancellationToken);
        LogSwept(logger, report.JobPayloads.Count, report.JobRecords.Count, report.Files.Count, report.BulkOutputs.Count, report.ReclaimedBytes,
            report.Batches, (report.FinishedAt - report.StartedAt).TotalMilliseconds);
        return report;
    }

    private async Task SweepTenantAsync(Sweep sweep, string tenantId, TenantRetention retention, CancellationToken cancellationToken)
    {
        var now = sweep.StartedAt;
        var limit = options.Value.BatchSize;
        foreach (var kind in Enum.GetValues<JobKind>())
        {
            if (retention.JobPayloads(kind) is { } payloads)
            {
                sweep.JobPayloads = await RepeatAsync(sweep, sweep.JobPayloads,
                    () => store.ExpireJobPayloadsAsync(tenantId, kind, now - payloads, now, limit, cancellationToken), cancellationToken);
            }

            if (retention.JobRecords(kind) is { } records)
            {
                sweep.JobRecords = await RepeatAsync(sweep, sweep.JobRecords,
                    () => store.DeleteJobRecordsAsync(tenantId, kind, now - records, limit, cancellationToken), cancellationToken);
            }
        }

        if (retention.Files is { } files)
        {
            sweep.Files = await RepeatAsync(sweep, sweep.Files,
                () => store.ExpireDatasetsAsync(tenantId, now - files, now, limit, cancellationToken), cancellationToken);
        }

        if (retention.BulkOutputs is { } bulkOutputs)
        {
            sweep.BulkOutputs = await RepeatAsync(sweep, sweep.BulkOutputs,
                () => store.ExpireBulkOutputsAsync(tenantId, now - bulkOutputs, now, limit, cancellationToken), cancellationToken);
        }
    }

    /// <summary>Repeats one sweep step until it comes back short, pausing and renewing the lease between steps.</summary>
    private async Task<SweepCounts> RepeatAsync(Sweep sweep, SweepCounts counts, Func<Task<SweepBatch>> step, CancellationToken cancellationToken)
    {
        while (true)
        {
            var batch = await step();
            sweep.Batches++;
            counts = counts.Add(batch);
            if (batch.Count < options.Value.BatchSize)
            {
                return counts;
            }

            await Task.Delay(options.Value.PauseBetweenBatches, time, cancellationToken);
            if (!await store.TryAcquireLeaseAsync(LeaseName, _owner, LeaseDuration, cancellationToken))
            {
                throw new LeaseLostException();
            }
        }
    }

    private sealed class Sweep(DateTimeOffset startedAt, string owner)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;
        public SweepCounts JobPayloads { get; set; } = SweepCounts.Zero;
        public SweepCounts JobRecords { get; set; } = SweepCounts.Zero;
        public SweepCounts Files { get; set; } = SweepCounts.Zero;
        public SweepCounts BulkOutputs { get; set; } = SweepCounts.Zero;
        public long ReclaimedBytes { get; set; }
        public int Batches { get; set; }
        public string? Error { get; set; }

        public SweepReport ToReport(DateTimeOffset finishedAt) => new()
        {
            StartedAt = StartedAt,
            FinishedAt = finishedAt,
            Owner = owner,
            JobPayloads = JobPayloads,
            JobRecords = JobRecords,
            Files = Files,
            BulkOutputs = BulkOutputs,
            ReclaimedBytes = ReclaimedBytes,
            Batches = Batches,
            Error = Error,
        };
    }

    private sealed class LeaseLostException : Exception;

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: no period is configured (section Retention), so nothing is ever swept")]
    private static partial void LogNothingToExpire(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention sweep failed; the next one starts over")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message =
        "Retention sweep: {Payloads} job payloads, {Records} job records, {Files} files, {BulkChunks} bulk chunks removed, {Reclaimed} bytes given back, {Batches} batches in {Milliseconds} ms")]
    private static partial void LogSwept(ILogger logger, long payloads, long records, long files, long bulkChunks, long reclaimed, int batches, double milliseconds);
}
