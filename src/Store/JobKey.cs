namespace AIaaS.Queue.Store;

/// <summary>What names one job (or bulk job) in the store: ids are unique per tenant, so a job is its tenant and its id
/// together, and two tenants may each hold a job under one id.</summary>
public readonly record struct JobKey(string TenantId, Guid JobId)
{
    public static JobKey Of(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new JobKey(job.TenantId, job.JobId);
    }
}
