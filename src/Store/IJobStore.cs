using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>Jobs and their results. Every method is safe to call concurrently. Ids are unique per tenant: a job is keyed by
/// its tenant and its id (<see cref="JobKey"/>), every read names both, and a write touches only the job of its record's tenant,
/// so two tenants may each hold a job under one id without either seeing or changing the other's.</summary>
public interface IJobStore
{
    /// <summary>Inserts each job whose (tenant, id) is not stored yet and leaves existing ones untouched,
    /// so a late "queued" record never overwrites a job a worker already finished.</summary>
    Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the given jobs as one bulk write (a worker stores a whole batch's results this way),
    /// each under its record's (tenant, id).</summary>
    Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>Stores the final state of each job, under its record's (tenant, id), that is not final yet (or is new), as one
    /// bulk write, and returns the keys it wrote.
    /// A job already final keeps what it has, so that two workers that ran one job (a message redelivered while its
    /// first worker still held it) write its result once: the second learns it lost and reports nothing.</summary>
    Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default);

    /// <summary>The tenant's job with its outputs, or null when the tenant holds no job under the id.</summary>
    Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The stored jobs among <paramref name="keys"/> (unknown ones are left out), with outputs only when asked.</summary>
    Task<IReadOnlyList<JobRecord>> GetManyAsync(IReadOnlyCollection<JobKey> keys, bool includeOutputs, CancellationToken cancellationToken = default);

    /// <summary>How many of the model's jobs are in <paramref name="status"/>, counting no further than
    /// <paramref name="limit"/>: an index range of at most that many entries, so the admission check costs the same on a
    /// store of millions of finished jobs as on an empty one.</summary>
    Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default);

    /// <summary>A page of jobs matching the query, without outputs.</summary>
    Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default);
}
