using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// What both stores decide the same way for <see cref="IJobStore"/>. A job is keyed by its tenant and id in both backends
/// (SQLite's primary key, MongoDB's unique "tenant_job" index), so no rule about whose a stored id is remains: a write
/// lands on its own tenant's job, and a racing write of the same key is settled by that key.
/// </summary>
internal static class JobStoreRules
{
    /// <summary>The statuses a job never leaves: a completing write skips a job already in one, and retention sweeps only these.</summary>
    public static readonly IReadOnlyList<JobStatus> FinalStatuses = Enum.GetValues<JobStatus>().Where(IsFinal).ToArray();

    public static bool IsFinal(JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired;
}
