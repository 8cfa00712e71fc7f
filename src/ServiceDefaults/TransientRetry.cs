using MassTransit;

namespace AIaaS.Queue.ServiceDefaults;

/// <summary>The retry every consumer endpoint uses for transient faults (the store or the broker briefly away): five
/// attempts with exponential backoff from 200 ms to 10 s. Exceptions that say the message itself is wrong are named by
/// the caller and never retried: such a message goes to the error queue with its reason at once.</summary>
public static class TransientRetry
{
    /// <summary>Retries after the first attempt; a consumer whose message would go to the error queue after the last one
    /// can end its job first (see <c>ConsumeContext.GetRetryAttempt</c>).</summary>
    public const int RetryLimit = 5;

    public static void UseTransientRetry(this IReceiveEndpointConfigurator endpoint, params Type[] notTransient) =>
        endpoint.UseMessageRetry(r =>
        {
            r.Exponential(RetryLimit, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(400));
            if (notTransient.Length > 0)
            {
                r.Ignore(notTransient);
            }
        });
}
