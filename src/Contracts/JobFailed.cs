namespace AIaaS.Queue.Contracts;

/// <summary>Event: a job ended before it reached a model: rejected (bad input, unknown model) or expired while queued.</summary>
public sealed record JobFailed
{
    public required Guid JobId { get; init; }
    public required JobKind Kind { get; init; }
    public required string Model { get; init; }
    public required string Error { get; init; }

    /// <summary><see cref="JobStatus.Failed"/>, or <see cref="JobStatus.Expired"/> for a job whose time-to-live ran out.</summary>
    public JobStatus Status { get; init; } = JobStatus.Failed;
    /// <summary>Always null from this release's workers: an event reaches every listener of its tenant, so it must
    /// not carry a callback URL, and webhooks take it from the stored job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }

    /// <summary>The tenant whose jobs this event reports, and so its routing key (<see cref="ClientEventRouting"/>): only that
    /// tenant's clients hear it. Null from older workers.</summary>
    public string? TenantId { get; init; }

    public required DateTimeOffset FailedAt { get; init; }
}
