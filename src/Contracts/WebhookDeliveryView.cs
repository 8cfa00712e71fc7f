namespace AIaaS.Queue.Contracts;

/// <summary>One webhook event for a job and every attempt to deliver it. <see cref="Id"/> is the <c>webhook-id</c> header, the same on every retry.</summary>
public sealed record WebhookDeliveryView
{
    public required string Id { get; init; }
    public required Guid JobId { get; init; }
    public required string EventType { get; init; }
    public required string Url { get; init; }
    public required WebhookDeliveryState State { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the next attempt is due while <see cref="State"/> is pending.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    public required IReadOnlyList<WebhookAttemptView> Attempts { get; init; }
}
