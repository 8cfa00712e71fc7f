using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace AIaaS.Queue.Workers;

/// <summary>
/// Writes a result while waiting out a store outage with the result in hand and its message unacknowledged. Giving up at
/// the first failure would hand the message to the consumer's retry policy, a few retries over seconds after which
/// MassTransit moves it to the error queue: an outage longer than that would lose the work. Waiting here keeps it in the
/// broker, bounds the worker to its prefetch, and does not run the model again. After
/// <see cref="WorkerOptions.StoreOutageLimit"/>, or once the worker stops, the last failure is thrown as before. A write
/// canceled by its caller's token is not repeated: its cancellation is thrown at once.
/// </summary>
internal sealed class StoreOutage
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestDelay = TimeSpan.FromSeconds(5);
    private static readonly ResiliencePropertyKey<DateTimeOffset> GiveUpAt = new("aiaas.store-outage.give-up-at");
    private static readonly ResiliencePropertyKey<string> Held = new("aiaas.store-outage.held");

    private readonly IOptions<WorkerOptions> _options;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _retry;

    public StoreOutage(IOptions<WorkerOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<StoreOutage> logger)
    {
        _options = options;
        _time = time;

        // Retried without a count: a wait is taken only if it ends before the limit, and none once the worker stops. The
        // stop is not the pipeline's cancellation token, since Polly would then skip the first attempt of a write made
        // while the worker drains its last batches; a wait under way when it stops runs out (5 s at most).
        // A canceled write is not an outage: its caller gave up, as MassTransit does for a consume whose broker channel
        // closed, and every repeat fails at once the same way. Repeated, it held the consume (and with it RabbitMQ.Client's
        // shutdown of the connection, which waits for every consume in flight) for the whole limit: after a broker
        // restart the job-registry endpoint's batch sat here while the worker's other endpoints and publishes waited.
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null and not OperationCanceledException
                    && !lifetime.ApplicationStopping.IsCancellationRequested
                    && time.GetUtcNow() + DelayAfter(args.AttemptNumber) < args.Context.Properties.GetValue(GiveUpAt, default)),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(DelayAfter(args.AttemptNumber)),
                OnRetry = args =>
                {
                    logger.LogWarning(args.Outcome.Exception, "Store unavailable: holding {What}, unacknowledged, and retrying in {Delay}",
                        args.Context.Properties.GetValue(Held, "a result"), args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <param name="write">The store write; repeated as it is, so it must be idempotent.</param>
    /// <param name="what">What is held, for the log: "40 results of iris v1".</param>
    public async Task<T> WriteAsync<T>(Func<Task<T>> write, string what)
    {
        var context = ResilienceContextPool.Shared.Get();
        try
        {
            context.Properties.Set(GiveUpAt, _time.GetUtcNow() + _options.Value.StoreOutageLimit);
            context.Properties.Set(Held, what);
            return await _retry.ExecuteAsync(static async (_, write) => await write().ConfigureAwait(false), context, write).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <inheritdoc cref="WriteAsync{T}"/>
    public Task WriteAsync(Func<Task> write, string what) => WriteAsync(async () =>
    {
        await write().ConfigureAwait(false);
        return true;
    }, what);

    /// <summary>250 ms after the first failure, doubling up to 5 s.</summary>
    private static TimeSpan DelayAfter(int attempt) =>
        TimeSpan.FromTicks(Math.Min(FirstDelay.Ticks << Math.Min(attempt, 10), LongestDelay.Ticks));
}
