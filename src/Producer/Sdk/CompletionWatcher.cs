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
internal sealed class CompletionWatcher(HttpClient http, IOptions<AiaasClientOptions> options, TimeProvider time, ILogger<CompletionWatcher> logger)
    : IDisposable
{
    private const int LookupLimit = 1000;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<JobView>> _waiting = new();
    private readonly ConcurrentDictionary<Guid, byte> _due = new();
    // A wake-up signal that coalesces: however many waits begin or events arrive, the loop looks once more.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _startLock = new();
    private Task? _loop;

    public async Task<JobView> WaitAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var completion = _waiting.GetOrAdd(jobId, _ => new TaskCompletionSource<JobView>(TaskCreationOptions.RunContinuationsAsynchronously));
        EnsureStarted();
        // Looked up at once: the job may have finished before this wait began (and its event gone by).
        _due[jobId] = 0;
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

    /// <summary>Some jobs reached a final state: those this client waits for are looked up now, and only those.</summary>
    public void Notify(IEnumerable<Guid> finishedJobIds)
    {
        var any = false;
        foreach (var id in finishedJobIds)
        {
            if (_waiting.ContainsKey(id))
            {
                _due[id] = 0;
                any = true;
            }
        }

        if (any)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>
    /// Two kinds of lookup. Due jobs (new waits, and jobs a completion event named) are looked up as soon as they are due.
    /// Every waiting job is looked up on a schedule: adaptively (from MinPollInterval, doubling to MaxPollInterval while
    /// nothing finishes) when polling is all there is, or every MaxPollInterval as a safety net when completion events arrive.
    /// </summary>
    private async Task RunAsync(CancellationToken stopping)
    {
        var eventsConnected = options.Value.CompletionEvents && options.Value.OwnsBrokerConnection;
        var interval = options.Value.MinPollInterval;
        var nextFullLookup = time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            if (_waiting.IsEmpty)
            {
                _due.Clear();
                await _wake.Reader.ReadAsync(stopping).ConfigureAwait(false);
                interval = options.Value.MinPollInterval;
                continue;
            }

            var full = time.GetUtcNow() >= nextFullLookup;
            var ids = full ? [.. _waiting.Keys] : TakeDue();
            if (full)
            {
                _due.Clear();
            }

            var finished = await LookUpAsync(ids, stopping).ConfigureAwait(false);
            if (full)
            {
                interval = eventsConnected ? options.Value.MaxPollInterval
                    : finished > 0 ? options.Value.MinPollInterval
                    : TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, options.Value.MaxPollInterval.Ticks));
                nextFullLookup = time.GetUtcNow() + interval;
            }

            if (!_due.IsEmpty)
            {
                continue;
            }

            // Until the next full lookup, or until something is due, whichever comes first.
            using var pause = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            pause.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (nextFullLookup - time.GetUtcNow()).Ticks)));
            try
            {
                await _wake.Reader.ReadAsync(pause.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
            }
        }
    }

    private List<Guid> TakeDue()
    {
        var ids = new List<Guid>(_due.Count);
        foreach (var id in _due.Keys)
        {
            if (_due.TryRemove(id, out _))
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    /// <summary>Looks the jobs up (1000 per request) and completes the waits of those that are final; returns how many.</summary>
    private async Task<int> LookUpAsync(IReadOnlyCollection<Guid> ids, CancellationToken stopping)
    {
        var finished = 0;
        try
        {
            foreach (var chunk in ids.Chunk(LookupLimit))
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

        return finished;
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
