using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// The persisted schedule of webhook deliveries. Senders claim due deliveries by pushing their next attempt time a
/// lease ahead: a sender that dies mid-attempt leaves them due again once the lease passes, so a restarted (or
/// another) sender resumes them. Delivery is at least once.
/// </summary>
public interface IWebhookStore
{
    /// <summary>Schedules deliveries whose id is not stored yet and leaves existing ones untouched.</summary>
    Task ScheduleWebhooksAsync(IReadOnlyCollection<WebhookDelivery> deliveries, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> pending deliveries due at <paramref name="now"/>, oldest due first; each is
    /// leased by moving its next attempt time to <paramref name="now"/> + <paramref name="lease"/>.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ClaimDueWebhooksAsync(DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Appends an attempt and sets the delivery's state and, while pending, its next attempt time.</summary>
    Task RecordWebhookAttemptAsync(string deliveryId, WebhookAttemptView attempt, WebhookDeliveryState state, DateTimeOffset nextAttemptAt,
        CancellationToken cancellationToken = default);

    /// <summary>The deliveries of the tenant's job (or bulk job) with their attempts, oldest first.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListWebhooksAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The earliest next attempt time among pending deliveries, or null when none is pending.</summary>
    Task<DateTimeOffset?> NextWebhookDueAsync(CancellationToken cancellationToken = default);
}
