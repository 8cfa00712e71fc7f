using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.ResultApi;

/// <summary>The jobs a completion event names, as store keys. Ids are unique per tenant: an event names its jobs' tenant,
/// and an older worker's event, which names none, is read under the tenant its stored model name tells.</summary>
internal static class CompletionEventKeys
{
    public static IReadOnlyList<JobKey> Of(PredictBatchCompleted batch)
    {
        var tenantId = Tenants.OfMessage(batch.TenantId, batch.Model);
        return [.. batch.Jobs.Select(j => new JobKey(tenantId, j.JobId))];
    }

    public static IReadOnlyList<JobKey> Of(JobFailed failed) => [new JobKey(Tenants.OfMessage(failed.TenantId, failed.Model), failed.JobId)];

    public static IReadOnlyList<JobKey> Of(TrainJobFinished finished) =>
        [new JobKey(Tenants.OfMessage(finished.TenantId, finished.Model), finished.JobId)];
}
