using System.Diagnostics;

namespace AIaaS.Queue.Benchmarks;

/// <summary>Open-loop load: work starts at a fixed rate whatever the system under test does, so that a slow answer
/// does not slow the arrivals (a closed loop would hide queueing delay).</summary>
internal static class Pacing
{
    /// <summary>Starts <paramref name="count"/> calls of <paramref name="start"/> at <paramref name="rate"/> per second
    /// and returns their results once all have finished.</summary>
    public static async Task<T[]> AtFixedRateAsync<T>(int count, double rate, Func<int, Task<T>> start, CancellationToken cancellationToken)
    {
        var started = new List<Task<T>>(count);
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < count;)
        {
            var due = (int)Math.Min(count, stopwatch.Elapsed.TotalSeconds * rate);
            for (; i < due; i++)
            {
                started.Add(start(i));
            }

            await Task.Delay(2, cancellationToken);
        }

        return await Task.WhenAll(started);
    }
}
