using System.Diagnostics;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>What the fault tests read back from the store: which submitted jobs are final, waiting for them.</summary>
internal static class StoredJobs
{
    public static async Task<IReadOnlyList<JobRecord>> FinalAsync(IJobStore store, IReadOnlyCollection<Guid> ids, CancellationToken ct) =>
        [.. (await store.GetManyAsync([.. ids.Select(id => new JobKey(Tenants.DefaultTenantId, id))], includeOutputs: false, ct)).Where(j => j.IsFinal)];

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        while (!await condition())
        {
            await Task.Delay(200, ct);
        }
    }

    /// <summary>Waits until every job is final, or until the test's own limit leaves no more time; returns the final ones.</summary>
    public static async Task<Dictionary<Guid, JobRecord>> DrainAsync(IJobStore store, IReadOnlyCollection<Guid> ids, CancellationToken ct,
        int limitSeconds = 60)
    {
        var drainLimit = Stopwatch.StartNew();
        while (true)
        {
            var final = await FinalAsync(store, ids, CancellationToken.None);
            if (final.Count == ids.Count || ct.IsCancellationRequested || drainLimit.Elapsed > TimeSpan.FromSeconds(limitSeconds))
            {
                return final.ToDictionary(j => j.JobId);
            }

            await Task.Delay(250, CancellationToken.None);
        }
    }
}
