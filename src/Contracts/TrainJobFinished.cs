namespace AIaaS.Queue.Contracts;

/// <summary>Event: a train job reached its final state; on success <see cref="ModelVersion"/> is the registered version.</summary>
public sealed record TrainJobFinished
{
    public required Guid JobId { get; init; }
    public required string Model { get; init; }
    public required JobStatus Status { get; init; }
    public int? ModelVersion { get; init; }
    public string? Error { get; init; }
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }
    /// <summary>Always null from this release's workers: every client's completion queue hears every event, so an event must
    /// not carry a tenant's callback URL, and webhooks take it from the stored job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }
}
