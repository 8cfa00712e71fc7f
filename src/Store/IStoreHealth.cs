namespace AIaaS.Queue.Store;

/// <summary>Checks that the store answers; used by readiness probes.</summary>
public interface IStoreHealth
{
    Task PingAsync(CancellationToken cancellationToken = default);
}
