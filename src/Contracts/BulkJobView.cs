namespace AIaaS.Queue.Contracts;

/// <summary>A bulk scoring job as the API shows it.</summary>
public sealed record BulkJobView
{
    public required Guid Id { get; init; }
    public required string Model { get; init; }
    public int? ModelVersion { get; init; }
    public required BulkJobStatus Status { get; init; }
    public required string InputFileId { get; init; }
    public BulkInputFormat? Format { get; init; }
    public required BulkJobCounts Counts { get; init; }

    /// <summary>Chunks scored (or skipped after a cancel or expiry) so far.</summary>
    public int ChunksDone { get; init; }

    /// <summary>Null while the file is still being split.</summary>
    public int? ChunksTotal { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? CallbackUrl { get; init; }
    public string? Error { get; init; }

    /// <summary>When the job's results were removed under its tenant's retention (they then answer 410 Gone); null while kept.</summary>
    public DateTimeOffset? OutputsExpiredAt { get; init; }

    public bool IsFinal => Status is BulkJobStatus.Succeeded or BulkJobStatus.Failed or BulkJobStatus.Cancelled or BulkJobStatus.Expired;
}
