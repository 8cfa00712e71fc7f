namespace AIaaS.Queue.Contracts;

/// <summary>Command: stop a job. A queued job never starts; a running train job has its training process ended.</summary>
public sealed record CancelJob
{
    public required Guid JobId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>The sending tenant and proof of its API key; null on the open embedded default (the default tenant).</summary>
    public TenantCredentials? Sender { get; init; }
}
