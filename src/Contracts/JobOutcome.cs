namespace AIaaS.Queue.Contracts;

/// <summary>The final state of one job, as carried in completion events.</summary>
public sealed record JobOutcome
{
    public required Guid JobId { get; init; }
    public required JobStatus Status { get; init; }
    public string? Error { get; init; }

    /// <summary>Always null from this release's workers: an event reaches every listener of its tenant, so it must
    /// not carry a tenant's callback URL, and webhooks take it from the stored job. Kept so that older workers' events still read.</summary>
    public string? CallbackUrl { get; init; }
}
