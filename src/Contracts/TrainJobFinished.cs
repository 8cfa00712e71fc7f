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
    /// <summary>Always null from this release's workers: an event reaches every listener of its tenant, so it must
    /// not carry a callback URL, and webhooks take it from the stored job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }

    /// <summary>The tenant whose jobs this event reports, and so its routing key (<see cref="ClientEventRouting"/>): only that
    /// tenant's clients hear it. Null from older workers.</summary>
    public string? TenantId { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }
}
