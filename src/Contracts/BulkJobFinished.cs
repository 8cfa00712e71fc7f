namespace AIaaS.Queue.Contracts;

/// <summary>Event: a bulk job reached a final state.</summary>
public sealed record BulkJobFinished
{
    public required Guid BulkJobId { get; init; }

    /// <summary>The bulk job's tenant: bulk job ids are unique per tenant. Null from older workers; the tenant is then the one
    /// <see cref="Model"/> (a stored, tenant-qualified name) tells.</summary>
    public string? TenantId { get; init; }
    public required string Model { get; init; }
    public int? ModelVersion { get; init; }
    public required BulkJobStatus Status { get; init; }
    public required BulkJobCounts Counts { get; init; }
    public string? Error { get; init; }
    /// <summary>Always null from this release's workers: an event reaches every listener of its tenant, so it must
    /// not carry a tenant's callback URL, and webhooks take it from the stored bulk job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
}
