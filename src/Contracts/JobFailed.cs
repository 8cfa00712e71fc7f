namespace AIaaS.Queue.Contracts;

/// <summary>Event: a job was rejected before it reached a model (bad input, unknown model).</summary>
public sealed record JobFailed
{
    public required Guid JobId { get; init; }
    public required JobKind Kind { get; init; }
    public required string Model { get; init; }
    public required string Error { get; init; }
    public required DateTimeOffset FailedAt { get; init; }
}
