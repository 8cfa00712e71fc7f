namespace AIaaS.Queue.Contracts;

/// <summary>Whether a model takes new predict jobs now: its backlog of queued jobs against the admission limit.
/// Clients that publish to the broker (the SDK) ask this before publishing, so that they are refused like HTTP clients are.</summary>
public sealed record ModelAdmissionView
{
    public required string Model { get; init; }

    /// <summary>Queued jobs counted, up to the limit (counting stops there).</summary>
    public required int Queued { get; init; }

    /// <summary>Null: this deployment sets no limit.</summary>
    public int? Limit { get; init; }

    public required bool Admitted { get; init; }

    /// <summary>When a refused client should try again.</summary>
    public int RetryAfterSeconds { get; init; }
}
