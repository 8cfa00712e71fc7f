using AIaaS.Queue.Workers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The store-outage wait: a write is repeated until it succeeds, until the next wait would pass the limit, or
/// until the worker stops; then the last failure is thrown.</summary>
public sealed class StoreOutageTests : IDisposable
{
    private readonly Lifetime _lifetime = new();

    private StoreOutage Create(TimeSpan limit, TimeProvider? time = null) =>
        new(Options.Create(new WorkerOptions { StoreOutageLimit = limit }), time ?? TimeProvider.System, _lifetime, NullLogger<StoreOutage>.Instance);

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
        // A clock of the test's own, moved in 50 ms steps: a loaded machine's scheduling cannot change what is counted.
        var time = new FakeTimeProvider();
        var started = time.GetUtcNow();

        // Waits of 250 and 500 ms fit in 1 s; the next, of 1 s, does not.
        var write = Create(TimeSpan.FromSeconds(1), time).WriteAsync<int>(() => throw new IOException($"failure {++attempts}"), "a result");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        while (!write.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(5, limit.Token);
        }

        var error = await Assert.ThrowsAsync<IOException>(() => write);
        Assert.Equal("failure 3", error.Message);
        Assert.InRange(time.GetUtcNow() - started, TimeSpan.FromMilliseconds(750), TimeSpan.FromMilliseconds(900));
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

    [Fact]
    public async Task AWriteCanceledByItsCallerIsNotRepeated()
    {
        // As a consume's write after MassTransit canceled it (its broker channel closed): every attempt fails at once.
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();
        var attempts = 0;

        var write = Create(TimeSpan.FromMinutes(5)).WriteAsync<int>(async () =>
        {
            attempts++;
            await Task.Delay(TimeSpan.FromSeconds(1), canceled.Token);
            return attempts;
        }, "a result");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(1, attempts);
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
