namespace AIaaS.Queue.Contracts;

/// <summary>Command: score one stored chunk of a bulk job. The records are in the store under (BulkJobId, ChunkIndex).</summary>
public sealed record ScoreBulkChunk
{
    public required Guid BulkJobId { get; init; }
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
}
