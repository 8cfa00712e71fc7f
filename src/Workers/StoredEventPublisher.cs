using MassTransit;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers;

/// <summary>
/// Publishes an event that reports something already written to the store: after the write, within a time limit, and
/// without failing the caller. Bounded because while the broker connection is down MassTransit holds a publish until it
/// is back, and it does not reconnect a receive endpoint until that endpoint's messages in flight are done: a consumer
/// awaiting such a publish deadlocked the worker after a broker outage, the consumer waiting for the publish and the
/// publish for the connection. The state it reports is stored, so the event only informs listeners (webhooks, waiting
/// clients) and may be lost; they read the store.
/// </summary>
internal static class StoredEventPublisher
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>True when the event went out; false (logged) when it could not within <see cref="Timeout"/>.</summary>
    public static async Task<bool> PublishAsync(IPublishEndpoint endpoint, object message, ILogger logger, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Timeout);
        try
        {
            // WaitAsync returns at the limit even if the transport does not observe the token.
            await endpoint.Publish(message, limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not publish {Event}; what it reports is stored", message.GetType().Name);
            return false;
        }
    }
}
