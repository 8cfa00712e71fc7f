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

/// <summary>MassTransit publish + consume with an empty handler on the same broker: what the queue alone can do.</summary>
internal static class RawCeiling
{
    public static async Task<double> MeasureAsync(Uri broker, int messages, int publishConcurrency, CancellationToken cancellationToken)
    {
        var counter = new EmptyConsumer.Counter(messages);
        var services = new ServiceCollection();
        services.AddSingleton(counter);
        services.AddMassTransit(x =>
        {
            x.ConfigureUsageTelemetryOptions(o => o.Enabled = false);
            x.AddConsumer<EmptyConsumer>().Endpoint(e =>
            {
                e.Name = "raw-ceiling";
                e.PrefetchCount = 512;
                e.ConcurrentMessageLimit = 512;
            });
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker);
                cfg.ConfigureEndpoints(context);
            });
        });
        await using var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(cancellationToken);
        try
        {
            var stopwatch = Stopwatch.StartNew();
            await Parallel.ForAsync(0, messages, new ParallelOptions { MaxDegreeOfParallelism = publishConcurrency, CancellationToken = cancellationToken },
                async (i, ct) => await bus.Publish(new RawPing { JobId = Guid.NewGuid(), Model = "raw", Features = [1f, 2f, 3f, 4f], SubmittedAt = DateTimeOffset.UtcNow }, ct));
            await counter.Done.WaitAsync(cancellationToken);
            return messages / stopwatch.Elapsed.TotalSeconds;
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
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
}
