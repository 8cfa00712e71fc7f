namespace AIaaS.Queue.Contracts;

/// <summary>A job as the ResultApi shows it (<c>GET /v1/jobs/{id}</c>).</summary>
public sealed record JobView
{
    public required Guid Id { get; init; }
    public required JobKind Kind { get; init; }
    public required string Model { get; init; }
    public int? ModelVersion { get; init; }
    public required JobStatus Status { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? Device { get; init; }
    public int? BatchSize { get; init; }
    public string? BatchId { get; init; }
    public string? WorkerId { get; init; }
    public string? Error { get; init; }

    /// <summary>Answered from a worker's response cache (a recent job of the same tenant had identical inputs): no model call
    /// ran, so <see cref="Device"/>, <see cref="BatchSize"/> and <see cref="BatchId"/> are empty.</summary>
    public bool Cached { get; init; }

    /// <summary>When the job's outputs were removed under its tenant's retention (<c>GET .../output</c> then answers 410 Gone);
    /// null while they are kept.</summary>
    public DateTimeOffset? OutputsExpiredAt { get; init; }
}
