using System.Diagnostics;
using AIaaS.Queue.Workers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The store-outage wait: a write is repeated until it succeeds, until the next wait would pass the limit, or
/// until the worker stops; then the last failure is thrown.</summary>
public sealed class StoreOutageTests : IDisposable
{
    private readonly Lifetime _lifetime = new();

    private StoreOutage Create(TimeSpan limit) =>
        new(Options.Create(new WorkerOptions { StoreOutageLimit = limit }), TimeProvider.System, _lifetime, NullLogger<StoreOutage>.Instance);

    [Fact]
    public async Task AWriteThatFailsDuringAnOutageIsRepeatedUntilItSucceeds()
    {
        var attempts = 0;

        var result = await Create(TimeSpan.FromMinutes(1)).WriteAsync(
            () => ++attempts < 3 ? throw new IOException("store down") : Task.FromResult(attempts), "a result");

        Assert.Equal(3, result);
    }

    [Fact]
    public async Task AWriteThatKeepsFailingThrowsItsLastFailureOnceTheNextWaitWouldPassTheLimit()
    {
        var attempts = 0;
        var clock = Stopwatch.StartNew();

        // Waits of 250 and 500 ms fit in 1 s; the next, of 1 s, does not.
        var error = await Assert.ThrowsAsync<IOException>(() => Create(TimeSpan.FromSeconds(1)).WriteAsync<int>(
            () => throw new IOException($"failure {++attempts}"), "a result"));

        Assert.Equal("failure 3", error.Message);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task OnceTheWorkerStopsAWriteIsStillAttemptedButNotRepeated()
    {
        _lifetime.Stop();
        var outage = Create(TimeSpan.FromMinutes(1));
        var attempts = 0;

        Assert.Equal(1, await outage.WriteAsync(() => Task.FromResult(++attempts), "a result"));
        await Assert.ThrowsAsync<IOException>(() => outage.WriteAsync<int>(() => throw new IOException($"failure {++attempts}"), "a result"));
        Assert.Equal(2, attempts);
    }

    public void Dispose() => _lifetime.Dispose();

    private sealed class Lifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => _stopping.Token;
        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void Stop() => _stopping.Cancel();

        public void StopApplication() => Stop();

        public void Dispose() => _stopping.Dispose();
    }
}
