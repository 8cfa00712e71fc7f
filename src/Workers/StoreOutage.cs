using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers;

/// <summary>
/// Writes a result while waiting out a store outage with the result in hand and its message unacknowledged. Giving up at
/// the first failure would hand the message to the consumer's retry policy, a few retries over seconds after which
/// MassTransit moves it to the error queue: an outage longer than that would lose the work. Waiting here keeps it in the
/// broker, bounds the worker to its prefetch, and does not run the model again. After
/// <see cref="WorkerOptions.StoreOutageLimit"/>, or when the worker stops, the last failure is thrown as before.
/// </summary>
internal sealed class StoreOutage(IOptions<WorkerOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<StoreOutage> logger)
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestDelay = TimeSpan.FromSeconds(5);

    /// <param name="write">The store write; repeated as it is, so it must be idempotent.</param>
    /// <param name="what">What is held, for the log: "40 results of iris v1".</param>
    public async Task<T> WriteAsync<T>(Func<Task<T>> write, string what)
    {
        var giveUpAt = time.GetUtcNow() + options.Value.StoreOutageLimit;
        var delay = FirstDelay;
        while (true)
        {
            try
            {
                return await write().ConfigureAwait(false);
            }
            catch (Exception ex) when (time.GetUtcNow() + delay < giveUpAt && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Store unavailable: holding {What}, unacknowledged, and retrying in {Delay}", what, delay);
            }

            await Task.Delay(delay, time, lifetime.ApplicationStopping).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LongestDelay.Ticks));
        }
    }
}
