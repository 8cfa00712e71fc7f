using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AIaaS.Queue.Store;

internal sealed class StoreHealthCheck(IStoreHealth store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The store did not answer.", ex);
        }
    }
}
