using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Training;

/// <summary>
/// While a train job runs here: every <see cref="TrainingOptions.HeartbeatInterval"/>, writes the job events gathered
/// since the last beat and renews the job's lease. A lost lease (another worker took the job over) or a cancel asked
/// for elsewhere ends the attempt through <paramref name="cancel"/>. One store round per beat, however fast the child
/// reports.
/// </summary>
internal sealed class TrainLeaseHeartbeat(ITrainingQueue training, IJobEventStore events, JobKey job, string workerId, TrainingOptions options,
    CancellationTokenSource cancel, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly List<JobEventView> _pending = [];
    private Task _loop = Task.CompletedTask;
    private volatile bool _lostLease;

    /// <summary>True once a renewal found the lease held by another worker: this attempt's result must be dropped.</summary>
    public bool LostLease => _lostLease;

    public void Add(JobEventView jobEvent)
    {
        lock (_gate)
        {
            _pending.Add(jobEvent);
        }
    }

    public void Start(CancellationToken stop) => _loop = Task.Run(() => BeatAsync(stop), CancellationToken.None);

    /// <summary>Waits for the loop (its <c>stop</c> token fired) and writes the events it did not.</summary>
    public async Task StopAsync()
    {
        await _loop.ConfigureAwait(false);
        await events.AppendJobEventsAsync(job.TenantId, job.JobId, Take(), CancellationToken.None).ConfigureAwait(false);
    }

    private async Task BeatAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.HeartbeatInterval, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await events.AppendJobEventsAsync(job.TenantId, job.JobId, Take(), CancellationToken.None).ConfigureAwait(false);
                var lease = await training.RenewTrainLeaseAsync(job.TenantId, job.JobId, workerId, options.Lease, CancellationToken.None).ConfigureAwait(false);
                if (!lease.Held)
                {
                    _lostLease = true;
                    await cancel.CancelAsync().ConfigureAwait(false);
                }
                else if (lease.CancelRequested)
                {
                    await cancel.CancelAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Train job {JobId}: heartbeat failed", job.JobId);
            }
        }
    }

    private List<JobEventView> Take()
    {
        lock (_gate)
        {
            List<JobEventView> batch = [.. _pending];
            _pending.Clear();
            return batch;
        }
    }
}
