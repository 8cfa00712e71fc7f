using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>Jobs and their results. Every method is safe to call concurrently. A job belongs to the tenant of the write
/// that created it, for good: a write naming another tenant for a stored id changes nothing.</summary>
public interface IJobStore
{
    /// <summary>Inserts each job whose id is not stored yet and leaves existing ones untouched,
    /// so a late "queued" record never overwrites a job a worker already finished.</summary>
    Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the given jobs as one bulk write (a worker stores a whole batch's results this way); a
    /// job another tenant holds is left as it is.</summary>
    Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>Stores the final state of each job that is not final yet and is the record's tenant's (or is new), as one bulk
    /// write, and returns the ids it wrote.
    /// A job already final keeps what it has, so that two workers that ran one job (a message redelivered while its
    /// first worker still held it) write its result once: the second learns it lost and reports nothing.</summary>
    Task<IReadOnlySet<Guid>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>One job with its outputs, or null when unknown.</summary>
    Task<JobRecord?> GetAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The stored jobs among <paramref name="jobIds"/> (unknown ids are left out), with outputs only when asked.</summary>
    Task<IReadOnlyList<JobRecord>> GetManyAsync(IReadOnlyCollection<Guid> jobIds, bool includeOutputs, CancellationToken cancellationToken = default);

    /// <summary>How many of the model's jobs are in <paramref name="status"/>, counting no further than
    /// <paramref name="limit"/>: an index range of at most that many entries, so the admission check costs the same on a
    /// store of millions of finished jobs as on an empty one.</summary>
    Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default);

    /// <summary>A page of jobs matching the query, without outputs.</summary>
    Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default);
}
