using System.Collections.Concurrent;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>
/// Waits for many jobs with one status request per interval (<c>POST /v1/jobs/lookup</c>, up to 1000 ids each),
/// polling quickly while jobs finish and backing off while none do.
/// </summary>
internal sealed class CompletionWatcher(HttpClient http, IOptions<AiaasClientOptions> options, ILogger<CompletionWatcher> logger) : IDisposable
{
    private const int LookupLimit = 1000;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<JobView>> _waiting = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _startLock = new();
    private Task? _loop;

    public async Task<JobView> WaitAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var completion = _waiting.GetOrAdd(jobId, _ => new TaskCompletionSource<JobView>(TaskCreationOptions.RunContinuationsAsynchronously));
        EnsureStarted();
        _wake.Release();
        return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void EnsureStarted()
    {
        lock (_startLock)
        {
            _loop ??= Task.Run(() => RunAsync(_disposed.Token));
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var interval = options.Value.MinPollInterval;
        while (!stopping.IsCancellationRequested)
        {
            if (_waiting.IsEmpty)
            {
                await _wake.WaitAsync(stopping).ConfigureAwait(false);
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
            await Task.Delay(interval, stopping).ConfigureAwait(false);
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
        _wake.Dispose();
    }
}
