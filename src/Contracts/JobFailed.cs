namespace AIaaS.Queue.Contracts;

/// <summary>Event: a job was rejected before it reached a model (bad input, unknown model).</summary>
public sealed record JobFailed
{
    public required Guid JobId { get; init; }
    public required JobKind Kind { get; init; }
    public required string Model { get; init; }
    public required string Error { get; init; }
    /// <summary>The job's callback URL, carried so that the webhook dispatcher needs no lookup per job.</summary>
    public string? CallbackUrl { get; init; }

    public required DateTimeOffset FailedAt { get; init; }
}
