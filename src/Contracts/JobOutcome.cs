namespace AIaaS.Queue.Contracts;

/// <summary>The final state of one job, as carried in completion events.</summary>
public sealed record JobOutcome
{
    public required Guid JobId { get; init; }
    public required JobStatus Status { get; init; }
    public string? Error { get; init; }

    /// <summary>The job's callback URL, carried so that the webhook dispatcher needs no lookup per job.</summary>
    public string? CallbackUrl { get; init; }
}
