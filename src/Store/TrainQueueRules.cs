using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store;

/// <summary>
/// What a train job's state changes mean, decided once for every backend (as Hangfire keeps its state machine in Core):
/// a backend reads a queue entry, asks these rules what happens to it, and writes the answer with conditional updates.
/// </summary>
internal static class TrainQueueRules
{
    public const string CancelledBeforeStart = "cancelled before it started";

    /// <summary>The job row a newly queued train job gets; its tenant is the verified sender's, for good.</summary>
    public static JobRecord QueuedJob(SubmitTrainJob request) => new()
    {
        JobId = request.JobId,
        TenantId = Tenants.OrDefault(request.Sender?.TenantId),
        Kind = JobKind.Train,
        Model = request.Model,
        Status = JobStatus.Queued,
        SubmittedAt = request.SubmittedAt,
    };

    public static JobEventView QueuedEvent(DateTimeOffset now) => new() { Sequence = 0, Type = JobEventTypes.Queued, At = now };

    /// <summary>
    /// What claiming <paramref name="entry"/> (queued, or running under a lease that ran out) for <paramref name="workerId"/>
    /// does: a lapsed lease counts as a failed attempt; a cancel asked for while no worker held the job ends it cancelled; a
    /// job out of attempts ends failed with the last attempt's reason; any other runs its next attempt.
    /// </summary>
    public static TrainClaimDecision Claim(TrainQueueEntry entry, string workerId, int maxAttempts, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var events = new List<JobEventView>();
        var lastError = entry.LastError;
        if (entry.State == TrainQueueState.Running)
        {
            lastError = $"worker {entry.LeaseOwner} stopped renewing its lease on attempt {entry.Attempts} (it crashed or was stopped)";
            events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.AttemptFailed, At = now, Attempt = entry.Attempts, Message = lastError });
        }

        if (entry.CancelRequested || entry.Attempts >= maxAttempts)
        {
            var (status, error) = entry.CancelRequested
                ? (JobStatus.Cancelled, "cancelled")
                : (JobStatus.Failed, $"gave up after {entry.Attempts} attempt(s): {lastError}");
            events.Add(Closing(status, error, now));
            return new TrainClaimDecision(status, entry.Attempts, lastError, error, entry.LeaseOwner, events);
        }

        var attempt = entry.Attempts + 1;
        events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.Started, At = now, Attempt = attempt, Message = $"worker {workerId}" });
        return new TrainClaimDecision(JobStatus.Running, attempt, lastError, null, workerId, events);
    }

    /// <summary>What a cancel request does to a train job in <paramref name="state"/>: a queued one ends at once, a running one is
    /// flagged for its worker; null for one already done, whose job row tells its status.</summary>
    public static TrainCancelOutcome? Cancel(TrainQueueState state, DateTimeOffset now) => state switch
    {
        TrainQueueState.Queued => new TrainCancelOutcome(JobStatus.Cancelled, EndsNow: true, CancelledBeforeStart,
            new JobEventView { Sequence = 0, Type = JobEventTypes.Cancelled, At = now, Message = CancelledBeforeStart }),
        TrainQueueState.Running => new TrainCancelOutcome(JobStatus.Running, EndsNow: false, null,
            new JobEventView { Sequence = 0, Type = JobEventTypes.CancelRequested, At = now }),
        _ => null,
    };

    /// <summary>The event that closes a train job's history, written with its final status.</summary>
    public static JobEventView Closing(JobStatus status, string? message, DateTimeOffset at) =>
        new() { Sequence = 0, Type = status.ToString().ToLowerInvariant(), At = at, Message = message };

    public static TrainQueueState ParseState(string state) => Enum.Parse<TrainQueueState>(state);
}

/// <summary>Where a train job is in the work queue (the job row's status says more: why it is done).</summary>
internal enum TrainQueueState
{
    Queued,
    Running,
    Done,
}

/// <summary>A train job as the queue holds it, read by a claim: <see cref="Attempts"/> counts the attempts started so far.</summary>
internal sealed record TrainQueueEntry(Guid JobId, SubmitTrainJob Request, TrainQueueState State, int Attempts, string? LeaseOwner,
    bool CancelRequested, string? LastError);

/// <summary>
/// The outcome of a claim: <see cref="JobStatus.Running"/> with the attempt it starts, or a final status with
/// <see cref="Error"/>. <see cref="Attempts"/> and <see cref="LastError"/> are what the queue entry keeps,
/// <see cref="WorkerId"/> goes on the job row, and <see cref="Events"/> are appended to the job's history.
/// </summary>
internal sealed record TrainClaimDecision(JobStatus Status, int Attempts, string? LastError, string? Error, string? WorkerId,
    IReadOnlyList<JobEventView> Events)
{
    public bool Claimed => Status == JobStatus.Running;
}

/// <summary>The outcome of a cancel request: the status it answers with, whether the job ends now (with <see cref="Error"/>
/// on its row) or only its worker is told, and the event it adds.</summary>
internal sealed record TrainCancelOutcome(JobStatus Status, bool EndsNow, string? Error, JobEventView Event);
