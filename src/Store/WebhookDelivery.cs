using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>A webhook event to deliver: the signed body is fixed when the event is scheduled, so every retry sends the same bytes.</summary>
public sealed record WebhookDelivery
{
    /// <summary>The <c>webhook-id</c>: derived from the job and the event type, so a redelivered completion event schedules nothing new.</summary>
    public required string Id { get; init; }
    public required Guid JobId { get; init; }
    public required string EventType { get; init; }
    public required string Url { get; init; }

    /// <summary>The tenant whose job the event is about: under <c>Store:Encryption</c> its data key seals the payload.
    /// Null on deliveries scheduled before deliveries named their tenant.</summary>
    public string? TenantId { get; init; }
    public required string Payload { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset NextAttemptAt { get; init; }
    public WebhookDeliveryState State { get; init; } = WebhookDeliveryState.Pending;
    public IReadOnlyList<WebhookAttemptView> Attempts { get; init; } = [];

    public WebhookDeliveryView ToView() => new()
    {
        Id = Id,
        JobId = JobId,
        EventType = EventType,
        Url = Url,
        State = State,
        CreatedAt = CreatedAt,
        NextAttemptAt = State == WebhookDeliveryState.Pending ? NextAttemptAt : null,
        Attempts = Attempts,
    };
}
