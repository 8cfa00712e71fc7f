namespace AIaaS.Queue.Contracts;

/// <summary>One try at delivering a webhook: when, what the receiver answered (null when it never answered), how long it took, and why it failed.</summary>
public sealed record WebhookAttemptView
{
    public required int Number { get; init; }
    public required DateTimeOffset At { get; init; }
    public int? StatusCode { get; init; }
    public required double LatencyMilliseconds { get; init; }
    public string? Error { get; init; }
}
