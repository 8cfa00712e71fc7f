using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>Uploaded data files (training sets, bulk inputs), each owned by one tenant and streamed in and out.</summary>
public interface IDatasetStore
{
    /// <summary>Stores an uploaded data file (streamed) for <paramref name="tenantId"/> and returns its id.</summary>
    Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default);

    /// <summary>The tenant's data file; null when unknown or another tenant's.</summary>
    Task<DatasetView?> GetDatasetAsync(string tenantId, string id, CancellationToken cancellationToken = default);

    /// <summary>Copies the tenant's data file to <paramref name="destination"/>; throws <see cref="KeyNotFoundException"/>
    /// for an unknown id or another tenant's.</summary>
    Task CopyDatasetToAsync(string tenantId, string id, Stream destination, CancellationToken cancellationToken = default);
}
