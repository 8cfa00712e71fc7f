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

    /// <summary>How long <see cref="PublishInBackground"/> keeps trying, and how long it waits between tries.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(2), RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Publishes <paramref name="messages"/> in order without the caller waiting: for events of work already acknowledged,
    /// off the batch path. A publish that fails (the broker away, or MassTransit's channel still recovering after a broker
    /// restart, which took tens of seconds) is tried again every <see cref="RetryDelay"/> for up to <see cref="Patience"/>,
    /// so that listeners (webhooks, waiting clients) learn late rather than never. A try that timed out may still have gone
    /// out, so an event can arrive twice; every listener takes it as "look at job J", which is idempotent.
    /// </summary>
    public static void PublishInBackground(IPublishEndpoint endpoint, IReadOnlyList<object> messages, ILogger logger, TimeProvider time,
        CancellationToken stopping)
    {
        if (messages.Count > 0)
        {
            _ = PublishPatientlyAsync(endpoint, messages, logger, time, stopping);
        }
    }

    private static async Task PublishPatientlyAsync(IPublishEndpoint endpoint, IReadOnlyList<object> messages, ILogger logger, TimeProvider time,
        CancellationToken stopping)
    {
        var giveUpAt = time.GetUtcNow() + Patience;
        foreach (var message in messages)
        {
            while (!await PublishAsync(endpoint, message, logger, stopping).ConfigureAwait(false))
            {
                if (stopping.IsCancellationRequested || time.GetUtcNow() + RetryDelay >= giveUpAt)
                {
                    logger.LogWarning("Gave up publishing {Event} after {Patience}; what it reports is stored", message.GetType().Name, Patience);
                    break;
                }

                try
                {
                    await Task.Delay(RetryDelay, time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

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
