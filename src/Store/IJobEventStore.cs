using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>The event history of jobs (train jobs so far): numbered per job, append-only, read in order;
/// keyed by the job's tenant and id.</summary>
public interface IJobEventStore
{
    /// <summary>Appends events to a job's history, numbering them after the last stored one.</summary>
    Task AppendJobEventsAsync(string tenantId, Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default);

    /// <summary>A job's events with a sequence number above <paramref name="afterSequence"/>, oldest first.</summary>
    Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(string tenantId, Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default);
}
