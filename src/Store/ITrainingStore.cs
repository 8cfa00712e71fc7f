using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// Train jobs as a work queue with leases, their event history, and uploaded data files. Workers claim a queued job,
/// hold it by renewing a short lease while it runs, and finish it; a job whose lease ran out (its worker died) is
/// claimed again, up to a limit of attempts. Holding a lease instead of an unacknowledged message keeps long
/// training runs clear of the broker's consumer timeout.
/// </summary>
public interface ITrainingStore
{
    /// <summary>Records a submitted train job as queued (job row, request and a "queued" event) unless its id is known;
    /// returns false for a known id, which makes a repeated submission a no-op.</summary>
    Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default);

    /// <summary>Claims the oldest train job that is queued, or running under a lease that ran out, for
    /// <paramref name="workerId"/>: marks it running, counts the attempt and leases it until now + <paramref name="lease"/>.
    /// A job that would exceed <paramref name="maxAttempts"/> is failed instead, with the reason, and one cancelled while its
    /// worker was gone ends cancelled; both are added to <paramref name="settled"/> so that the caller can announce their end.
    /// Null when none is waiting.</summary>
    Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default);

    /// <summary>The request a train job was submitted with (its model name as stored, its callback URL), or null for an unknown job.</summary>
    Task<SubmitTrainJob?> GetTrainRequestAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Extends the lease of a job this worker holds; returns whether it still holds it and whether a cancel was asked for.</summary>
    Task<TrainLeaseState> RenewTrainLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Gives a held job back to the queue (for example after its training process crashed) so another attempt can claim it.</summary>
    Task ReleaseTrainJobAsync(Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default);

    /// <summary>Asks for a job to stop. A queued train job is cancelled at once; a running one is flagged for its worker.
    /// Returns the job's status after the request, or null for an unknown job.</summary>
    Task<JobStatus?> RequestCancelAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Writes a held train job's final state and its closing event (type: the status in lower case, with
    /// <paramref name="eventMessage"/>), unless the lease moved to another worker (returns false then). The event is stored
    /// no later than the status, so whoever sees the job finished finds its closing event too.</summary>
    Task<bool> FinishTrainJobAsync(Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default);

    /// <summary>Appends events to a job's history, numbering them after the last stored one.</summary>
    Task AppendJobEventsAsync(Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default);

    /// <summary>A job's events with a sequence number above <paramref name="afterSequence"/>, oldest first.</summary>
    Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default);

    /// <summary>The model version a train job registered, if any (registration is idempotent on the job id).</summary>
    Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(Guid trainingJobId, CancellationToken cancellationToken = default);

    /// <summary>Stores an uploaded data file (streamed) for <paramref name="tenantId"/> and returns its id.</summary>
    Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default);

    /// <summary>The tenant's data file; null when unknown or another tenant's.</summary>
    Task<DatasetView?> GetDatasetAsync(string tenantId, string id, CancellationToken cancellationToken = default);

    /// <summary>Copies the tenant's data file to <paramref name="destination"/>; throws <see cref="KeyNotFoundException"/>
    /// for an unknown id or another tenant's.</summary>
    Task CopyDatasetToAsync(string tenantId, string id, Stream destination, CancellationToken cancellationToken = default);
}

/// <summary>A train job a worker now holds.</summary>
public sealed record TrainJobClaim(SubmitTrainJob Request, int Attempt, string? PreviousAttemptError);

public readonly record struct TrainLeaseState(bool Held, bool CancelRequested);

/// <summary>A train job that ended while being looked at for a claim, without running again.</summary>
public sealed record SettledTrainJob(SubmitTrainJob Request, JobStatus Status, string Error);

/// <summary>The event that closes a train job's history, written with its final status.</summary>
internal static class TrainingEvents
{
    public static JobEventView Closing(JobStatus status, string? message, DateTimeOffset at) =>
        new() { Sequence = 0, Type = status.ToString().ToLowerInvariant(), At = at, Message = message };
}
