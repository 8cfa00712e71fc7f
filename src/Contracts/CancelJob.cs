namespace AIaaS.Queue.Contracts;

/// <summary>Command: stop a job. A queued job never starts; a running train job has its training process ended.</summary>
public sealed record CancelJob
{
    public required Guid JobId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
