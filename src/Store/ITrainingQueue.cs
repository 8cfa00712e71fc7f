using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// Train jobs as a work queue with leases. Workers claim a queued job, hold it by renewing a short lease while it runs,
/// and finish it; a job whose lease ran out (its worker died) is claimed again, up to a limit of attempts
/// (<see cref="TrainQueueRules"/> decides what a claim does). Holding a lease instead of an unacknowledged message keeps
/// long training runs clear of the broker's consumer timeout. Each change to a train job also moves its job row and
/// appends to its event history, in the same write where the backend allows it. A train job is keyed by its tenant and id,
/// as every job is (<see cref="JobKey"/>).
/// </summary>
public interface ITrainingQueue
{

    /// <summary>Records a submitted train job as queued (job row, request and a "queued" event) unless its tenant holds the id
    /// already; returns false then, which makes a repeated submission a no-op.</summary>
    Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default);

    /// <summary>Claims the oldest train job that is queued, or running under a lease that ran out, for
    /// <paramref name="workerId"/>: marks it running, counts the attempt and leases it until now + <paramref name="lease"/>.
    /// A job that would exceed <paramref name="maxAttempts"/> is failed instead, with the reason, and one cancelled while its
    /// worker was gone ends cancelled; both are added to <paramref name="settled"/> so that the caller can announce their end.
    /// Null when none is waiting.</summary>
    Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default);

    /// <summary>The request a train job was submitted with (its model name as stored, its callback URL), or null for an unknown job.</summary>
    Task<SubmitTrainJob?> GetTrainRequestAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Extends the lease of a job this worker holds; returns whether it still holds it and whether a cancel was asked for.</summary>
    Task<TrainLeaseState> RenewTrainLeaseAsync(string tenantId, Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Gives a held job back to the queue (for example after its training process crashed) so another attempt can claim it.</summary>
    Task ReleaseTrainJobAsync(string tenantId, Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default);

    /// <summary>Asks for a job to stop. A queued train job is cancelled at once; a running one is flagged for its worker.
    /// Returns the job's status after the request, or null for an unknown job.</summary>
    Task<JobStatus?> RequestCancelAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Writes a held train job's final state and its closing event (type: the status in lower case, with
    /// <paramref name="eventMessage"/>), unless the lease moved to another worker (returns false then). The event is stored
    /// no later than the status, so whoever sees the job finished finds its closing event too.</summary>
    Task<bool> FinishTrainJobAsync(string tenantId, Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default);
}

/// <summary>A train job a worker now holds.</summary>
public sealed record TrainJobClaim(SubmitTrainJob Request, int Attempt, string? PreviousAttemptError);

public readonly record struct TrainLeaseState(bool Held, bool CancelRequested);

/// <summary>A train job that ended while being looked at for a claim, without running again.</summary>
public sealed record SettledTrainJob(SubmitTrainJob Request, JobStatus Status, string Error);
