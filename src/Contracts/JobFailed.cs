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
    /// <summary>Always null from this release's workers: every client's completion queue hears every event, so an event must
    /// not carry a tenant's callback URL, and webhooks take it from the stored job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }

    public required DateTimeOffset FailedAt { get; init; }
}
