using System.Collections.Concurrent;
using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Benchmarks;

/// <summary>A message the size and shape of a one-record predict job, for the broker's raw ceiling.</summary>
public sealed record RawPing
{
    public required Guid JobId { get; init; }
    public required string Model { get; init; }
    public required float[] Features { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
}

/// <summary>The reply of the raw round trip: the job's id back, as the system's completion event carries it.</summary>
public sealed record RawPong
{
    public required Guid JobId { get; init; }
}

/// <summary>MassTransit on the same broker without the system: what the queue alone can do.</summary>
internal static class RawCeiling
{
    /// <summary>Publish + consume with an empty handler: the throughput ceiling, in messages per second.</summary>
    public static async Task<double> MeasureAsync(Uri broker, int messages, int publishConcurrency, CancellationToken cancellationToken)
    {
        var counter = new EmptyConsumer.Counter(messages);
        await using var bus = await RawBus.StartAsync(broker, services => services.AddSingleton(counter),
            x => x.AddConsumer<EmptyConsumer>().Endpoint(e => RawBus.Endpoint(e, "raw-ceiling")), cancellationToken);
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, messages, new ParallelOptions { MaxDegreeOfParallelism = publishConcurrency, CancellationToken = cancellationToken },
            async (i, ct) => await bus.Publish(Ping(Guid.NewGuid()), ct));
        await counter.Done.WaitAsync(cancellationToken);
        return messages / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The round trip a job's path is built on, without the job: publish a ping, consume it, publish a pong back, consume
    /// that. Pings start at <paramref name="rate"/> per second (open loop, as the latency figure offers its jobs), so
    /// the broker is as busy as it is for the system. Returns each round trip in milliseconds. Run it on a virtual host
    /// of its own: a ceiling queue left bound to <see cref="RawPing"/> would take a copy of every ping.
    /// </summary>
    public static async Task<double[]> RoundTripsAsync(Uri broker, double rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var count = (int)(rate * duration.TotalSeconds);
        var recorder = new PongConsumer.Recorder(count);
        await using var bus = await RawBus.StartAsync(broker, services => services.AddSingleton(recorder), x =>
        {
            x.AddConsumer<PingReplier>().Endpoint(e => RawBus.Endpoint(e, "raw-round-trip-ping"));
            x.AddConsumer<PongConsumer>().Endpoint(e => RawBus.Endpoint(e, "raw-round-trip-pong"));
        }, cancellationToken);
        await Pacing.AtFixedRateAsync(count, rate, async i =>
        {
            var id = Guid.NewGuid();
            recorder.Started(id);
            await bus.Publish(Ping(id), cancellationToken);
            return i;
        }, cancellationToken);
        await recorder.Done.WaitAsync(cancellationToken);
        return recorder.Milliseconds;
    }

    private static RawPing Ping(Guid id) => new() { JobId = id, Model = "raw", Features = [1f, 2f, 3f, 4f], SubmittedAt = DateTimeOffset.UtcNow };

    /// <summary>A bus in this process with the given consumers, stopped and disposed with it.</summary>
    private sealed class RawBus(ServiceProvider provider, IBusControl bus) : IAsyncDisposable
    {
        public static async Task<RawBus> StartAsync(Uri broker, Action<IServiceCollection> state,
            Action<IBusRegistrationConfigurator> consumers, CancellationToken cancellationToken)
        {
            var services = new ServiceCollection();
            state(services);
            services.AddMassTransit(x =>
            {
                x.ConfigureUsageTelemetryOptions(o => o.Enabled = false);
                consumers(x);
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(broker);
                    cfg.ConfigureEndpoints(context);
                });
            });
            var provider = services.BuildServiceProvider();
            var bus = provider.GetRequiredService<IBusControl>();
            await bus.StartAsync(cancellationToken);
            return new RawBus(provider, bus);
        }

        /// <summary>The workers' prefetch (512), and as many handlers at once: the broker, not the consumer, is measured.</summary>
        public static void Endpoint(IEndpointRegistrationConfigurator endpoint, string name)
        {
            endpoint.Name = name;
            endpoint.PrefetchCount = 512;
            endpoint.ConcurrentMessageLimit = 512;
        }

        public Task Publish<T>(T message, CancellationToken cancellationToken) where T : class => bus.Publish(message, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await bus.StopAsync(CancellationToken.None);
            await provider.DisposeAsync();
        }
    }

    private sealed class EmptyConsumer(EmptyConsumer.Counter counter) : IConsumer<RawPing>
    {
        public Task Consume(ConsumeContext<RawPing> context)
        {
            counter.Increment();
            return Task.CompletedTask;
        }

        public sealed class Counter(int target)
        {
            private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private int _count;

            public Task Done => _done.Task;

            public void Increment()
            {
                if (Interlocked.Increment(ref _count) == target)
                {
                    _done.TrySetResult();
                }
            }
        }
    }

    private sealed class PingReplier : IConsumer<RawPing>
    {
        public Task Consume(ConsumeContext<RawPing> context) => context.Publish(new RawPong { JobId = context.Message.JobId });
    }

    private sealed class PongConsumer(PongConsumer.Recorder recorder) : IConsumer<RawPong>
    {
        public Task Consume(ConsumeContext<RawPong> context)
        {
            recorder.Finished(context.Message.JobId);
            return Task.CompletedTask;
        }

        public sealed class Recorder(int target)
        {
            private readonly ConcurrentDictionary<Guid, long> _started = new();
            private readonly double[] _milliseconds = new double[target];
            private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private int _claimed;
            private int _written;

            public Task Done => _done.Task;

            public double[] Milliseconds => _milliseconds;

            public void Started(Guid id) => _started[id] = Stopwatch.GetTimestamp();

            public void Finished(Guid id)
            {
                _milliseconds[Interlocked.Increment(ref _claimed) - 1] = Stopwatch.GetElapsedTime(_started[id]).TotalMilliseconds;
                // Done once every slot is written, not merely claimed.
                if (Interlocked.Increment(ref _written) == target)
                {
                    _done.TrySetResult();
                }
            }
        }
    }
}
