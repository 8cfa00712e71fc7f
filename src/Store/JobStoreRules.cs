using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// What both stores decide the same way for <see cref="IJobStore"/>. One rule stays inside each backend's write: a job
/// belongs to the tenant of the write that created it, checked in the conditional write itself (SQLite's
/// <c>ON CONFLICT ... WHERE</c>, MongoDB's filter on id and tenant), because only that one statement is atomic against a
/// racing write of the same id.
/// </summary>
internal static class JobStoreRules
{
    /// <summary>The statuses a job never leaves: a completing write skips a job already in one, and retention sweeps only these.</summary>
    public static readonly IReadOnlyList<JobStatus> FinalStatuses = Enum.GetValues<JobStatus>().Where(IsFinal).ToArray();

    public static bool IsFinal(JobStatus status) =>
        status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired;
}
