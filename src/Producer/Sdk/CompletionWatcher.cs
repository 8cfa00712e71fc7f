using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Threading.Channels;
using AIaaS.Queue.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>
/// Waits for many jobs with one status request per interval (<c>POST /v1/jobs/lookup</c>, up to 1000 ids each),
/// polling quickly while jobs finish and backing off while none do. With completion events (<see cref="Notify"/>, fed
/// from the broker), a finished job is looked up at once instead of at the next interval; polling stays as the fallback.
/// </summary>
internal sealed class CompletionWatcher(HttpClient http, IOptions<AiaasClientOptions> options, ILogger<CompletionWatcher> logger) : IDisposable
{
    private const int LookupLimit = 1000;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<JobView>> _waiting = new();
    // A wake-up signal that coalesces: however many waits begin or events arrive, the loop looks once more.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _startLock = new();
    private Task? _loop;

    public async Task<JobView> WaitAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var completion = _waiting.GetOrAdd(jobId, _ => new TaskCompletionSource<JobView>(TaskCreationOptions.RunContinuationsAsynchronously));
        EnsureStarted();
        _wake.Writer.TryWrite(true);
        return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void EnsureStarted()
    {
        lock (_startLock)
        {
            _loop ??= Task.Run(() => RunAsync(_disposed.Token));
        }
    }

    /// <summary>Some jobs reached a final state: if this client waits for any of them, look them up now.</summary>
    public void Notify(IEnumerable<Guid> finishedJobIds)
    {
        foreach (var id in finishedJobIds)
        {
            if (_waiting.ContainsKey(id))
            {
                _wake.Writer.TryWrite(true);
                return;
            }
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var interval = options.Value.MinPollInterval;
        while (!stopping.IsCancellationRequested)
        {
            if (_waiting.IsEmpty)
            {
                await _wake.Reader.ReadAsync(stopping).ConfigureAwait(false);
                interval = options.Value.MinPollInterval;
                continue;
            }

            var finished = 0;
            try
            {
                foreach (var chunk in _waiting.Keys.Chunk(LookupLimit))
                {
                    using var response = await http.PostAsJsonAsync("v1/jobs/lookup", new JobLookupRequest { Ids = chunk }, WireJson.Options, stopping).ConfigureAwait(false);
                    response.EnsureSuccessStatusCode();
                    var jobs = await response.Content.ReadFromJsonAsync<List<JobView>>(WireJson.Options, stopping).ConfigureAwait(false) ?? [];
                    foreach (var job in jobs)
                    {
                        if (job.Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled or JobStatus.Expired
                            && _waiting.TryRemove(job.Id, out var completion))
                        {
                            completion.TrySetResult(job);
                            finished++;
                        }
                    }
                }
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // The API may be restarting: keep waiting rather than failing every waiter.
                logger.LogWarning(ex, "Checking job status failed; retrying");
            }

            interval = finished > 0
                ? options.Value.MinPollInterval
                : TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, options.Value.MaxPollInterval.Ticks));
            // Until the interval passes or a completion event names a job waited for, whichever comes first.
            using var pause = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            pause.CancelAfter(interval);
            try
            {
                await _wake.Reader.ReadAsync(pause.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
            }
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        foreach (var completion in _waiting.Values)
        {
            completion.TrySetCanceled();
        }

        _disposed.Dispose();
    }
}
