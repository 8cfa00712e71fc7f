using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store.Tests;

internal static class TestJobs
{
    /// <summary>A predict job of <paramref name="tenantId"/> that succeeded with <paramref name="outputs"/>, completed at
    /// <paramref name="completedAt"/> (now when not given).</summary>
    public static JobRecord Succeeded(string tenantId, IReadOnlyList<InferTensor> outputs, DateTimeOffset? completedAt = null)
    {
        var at = completedAt ?? DateTimeOffset.UtcNow;
        return new JobRecord
        {
            JobId = Guid.NewGuid(),
            TenantId = tenantId,
            Kind = JobKind.Predict,
            Model = $"{tenantId}/m",
            ModelVersion = 1,
            Status = JobStatus.Succeeded,
            SubmittedAt = at,
            CompletedAt = at,
            Outputs = outputs,
        };
    }
}

internal static class TrainJobKeys
{
    extension(SubmitTrainJob job)
    {
        /// <summary>The tenant a train job is stored under: its sender's, or the default tenant.</summary>
        public string TenantId => Domain.Tenants.OrDefault(job.Sender?.TenantId);
    }
}
