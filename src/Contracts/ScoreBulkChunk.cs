namespace AIaaS.Queue.Contracts;

/// <summary>Command: score one stored chunk of a bulk job. The records are in the store under (TenantId, BulkJobId, ChunkIndex).</summary>
public sealed record ScoreBulkChunk
{
    public required Guid BulkJobId { get; init; }

    /// <summary>The bulk job's tenant: bulk job ids are unique per tenant. Null from older workers; the tenant is then the one
    /// <see cref="Model"/> (a stored, tenant-qualified name) tells.</summary>
    public string? TenantId { get; init; }
    public required int ChunkIndex { get; init; }
    public required string Model { get; init; }

    /// <summary>Resolved when the job started, so that every chunk of one job uses one version.</summary>
    public required int ModelVersion { get; init; }

    public required int RecordCount { get; init; }

    /// <summary>The bulk job's explanation request, carried to every chunk.</summary>
    public ExplainOptions? Explain { get; init; }
}

/// <summary>Command: close a bulk job whose chunks are all done. Sent by whoever sees the last chunk finish; repeats are harmless.</summary>
public sealed record FinalizeBulkJob
{
    public required Guid BulkJobId { get; init; }

    /// <summary>The bulk job's tenant: bulk job ids are unique per tenant. Null from older workers (read as the default tenant's).</summary>
    public string? TenantId { get; init; }
}
