using System.Threading.Channels;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using MassTransit;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// Waits for jobs to reach a final state, for the endpoints that answer with a job's result (the Open Inference Protocol's
/// infer). Every API instance listens on a temporary endpoint of its own for the completion events workers publish
/// (<see cref="PredictBatchCompleted"/>, <see cref="JobFailed"/>, <see cref="TrainJobFinished"/>), so whichever instance holds
/// a request hears of its job. An event only says which jobs to read now; what became of a job is read from the store.
/// One loop serves every waiter: it reads the jobs events named (or that a new wait asked about) at once, in one query, and
/// every waiting job on a slow schedule, the safety net for an event missed (published while this instance was connecting,
/// or never: a job cancelled while queued). Nothing runs per request but the wait on its own completion. Jobs are waited
/// for by tenant and id (ids are unique per tenant), and an event names its tenant (an older worker's event: its model's).
/// </summary>
public sealed partial class JobCompletionWaiter(IJobStore jobs, IReceiveEndpointConnector connector, IHostApplicationLifetime lifetime,
    TimeProvider time, ILogger<JobCompletionWaiter> logger) : BackgroundService
{
    /// <summary>Full lookups while completion events arrive: only what an event could have missed waits this long.</summary>
    internal static readonly TimeSpan SafetyNetInterval = TimeSpan.FromSeconds(1);

    /// <summary>Without events, polling starts this fast and doubles up to <see cref="SafetyNetInterval"/> while nothing finishes.</summary>
    internal static readonly TimeSpan MinPollInterval = TimeSpan.FromMilliseconds(50);

    private const int LookupChunk = 500;
    private readonly Dictionary<JobKey, Waiter> _waiting = [];
    private readonly HashSet<JobKey> _due = [];
    private readonly Lock _lock = new();

    // A wake-up signal that coalesces: however many waits begin or events arrive, the loop looks once more.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile bool _eventsConnected;

    /// <summary>Whether completion events reach this instance (else the loop polls, adaptively).</summary>
    public bool EventsConnected => _eventsConnected;

    /// <summary>The job once it is final, or null when <paramref name="limit"/> passes first. The job is read at once, so one
    /// that finished before the wait began is returned without waiting for an event.</summary>
    public async Task<JobRecord?> WaitAsync(string tenantId, Guid jobId, TimeSpan limit, CancellationToken cancellationToken)
    {
        var key = new JobKey(tenantId, jobId);
        var waiter = Join(key);
        try
        {
            return await waiter.Completion.Task.WaitAsync(limit, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            Leave(key, waiter);
        }
    }

    /// <summary>Some jobs reached a final state: those waited for here are read now, and only those.</summary>
    internal void Notify(IEnumerable<JobKey> finishedJobs)
    {
        var any = false;
        lock (_lock)
        {
            foreach (var id in finishedJobs)
            {
                if (_waiting.ContainsKey(id))
                {
                    any |= _due.Add(id);
                }
            }
        }

        if (any)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    private Waiter Join(JobKey jobId)
    {
        Waiter? waiter;
        lock (_lock)
        {
            if (!_waiting.TryGetValue(jobId, out waiter))
            {
                _waiting[jobId] = waiter = new Waiter();
            }

            waiter.Count++;
            _due.Add(jobId);
        }

        _wake.Writer.TryWrite(true);
        return waiter;
    }

    private void Leave(JobKey jobId, Waiter waiter)
    {
        lock (_lock)
        {
            if (--waiter.Count == 0 && _waiting.TryGetValue(jobId, out var current) && current == waiter)
            {
                _waiting.Remove(jobId);
                _due.Remove(jobId);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listening = ListenAsync(stoppingToken);
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await listening.ConfigureAwait(false);
    }

    /// <summary>
    /// Two kinds of lookup, as the SDK's completion watcher does over HTTP. Due jobs (new waits, jobs an event named) are
    /// read as soon as they are due. Every waiting job is read on a schedule: every <see cref="SafetyNetInterval"/> while
    /// events arrive, else adaptively from <see cref="MinPollInterval"/>.
    /// </summary>
    private async Task RunAsync(CancellationToken stopping)
    {
        var interval = MinPollInterval;
        var nextFullLookup = time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            List<JobKey> ids;
            bool full;
            lock (_lock)
            {
                full = _waiting.Count > 0 && time.GetUtcNow() >= nextFullLookup;
                ids = full ? [.. _waiting.Keys] : [.. _due];
                _due.Clear();
                if (_waiting.Count == 0)
                {
                    interval = MinPollInterval;
                }
            }

            if (ids.Count > 0)
            {
                var finished = await LookUpAsync(ids, stopping).ConfigureAwait(false);
                if (full)
                {
                    interval = _eventsConnected ? SafetyNetInterval
                        : finished > 0 ? MinPollInterval
                        : TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, SafetyNetInterval.Ticks));
                    nextFullLookup = time.GetUtcNow() + interval;
                }
            }

            bool idle;
            lock (_lock)
            {
                if (_due.Count > 0)
                {
                    continue;
                }

                idle = _waiting.Count == 0;
            }

            // Until something is due, or (while anyone waits) until the next full lookup.
            using var pause = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            if (!idle)
            {
                pause.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (nextFullLookup - time.GetUtcNow()).Ticks)));
            }

            try
            {
                await _wake.Reader.ReadAsync(pause.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
            }

            if (idle)
            {
                // A wait began after a quiet spell: its first full lookup is one interval away, not overdue.
                nextFullLookup = time.GetUtcNow() + (_eventsConnected ? SafetyNetInterval : MinPollInterval);
            }
        }
    }

    /// <summary>Reads the jobs and completes the waits of those that are final; returns how many. A store that does not
    /// answer fails no waiter: they are read again at the next lookup, or their wait runs out.</summary>
    private async Task<int> LookUpAsync(List<JobKey> ids, CancellationToken stopping)
    {
        var finished = 0;
        try
        {
            foreach (var chunk in ids.Chunk(LookupChunk))
            {
                foreach (var job in await jobs.GetManyAsync(chunk, includeOutputs: true, stopping).ConfigureAwait(false))
                {
                    if (!job.IsFinal)
                    {
                        continue;
                    }

                    Waiter? waiter;
                    lock (_lock)
                    {
                        _waiting.TryGetValue(JobKey.Of(job), out waiter);
                    }

                    if (waiter?.Completion.TrySetResult(job) == true)
                    {
                        finished++;
                    }
                }
            }
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            LogLookupFailed(logger, ex, ids.Count);
        }

        return finished;
    }

    /// <summary>Listens for completion events on a temporary endpoint (an auto-deleted queue on RabbitMQ) until stopped.</summary>
    private async Task ListenAsync(CancellationToken stopping)
    {
        try
        {
            // Endpoints connect once the bus has started, which the host has done when it reports the application started.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stopping).ConfigureAwait(false);
            }

            var handle = connector.ConnectReceiveEndpoint(new TemporaryEndpointDefinition("job-completions"), KebabCaseEndpointNameFormatter.Instance,
                (_, endpoint) =>
                {
                    // Here, not in a client: see HearEveryTenantThroughClientEvents. In memory there are no clients to route to.
                    (endpoint as IRabbitMqReceiveEndpointConfigurator)?.HearEveryTenantThroughClientEvents();
                    endpoint.Handler<PredictBatchCompleted>(context =>
                    {
                        Notify(CompletionEventKeys.Of(context.Message));
                        return Task.CompletedTask;
                    });
                    endpoint.Handler<JobFailed>(context =>
                    {
                        Notify(CompletionEventKeys.Of(context.Message));
                        return Task.CompletedTask;
                    });
                    endpoint.Handler<TrainJobFinished>(context =>
                    {
                        Notify(CompletionEventKeys.Of(context.Message));
                        return Task.CompletedTask;
                    });
                });
            await handle.Ready.WaitAsync(stopping).ConfigureAwait(false);
            _eventsConnected = true;
            try
            {
                await Task.Delay(Timeout.Infinite, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            _eventsConnected = false;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await handle.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            // Waits still end: the loop polls the store instead, quickly at first.
            LogListenFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading {Count} waited-for jobs failed; reading them again at the next lookup")]
    private static partial void LogLookupFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not listen for completion events; waits for jobs poll the store instead")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);

    private sealed class Waiter
    {
        public TaskCompletionSource<JobRecord> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Requests waiting for this job (a retried request may wait beside the first); guarded by the waiter's lock.</summary>
        public int Count { get; set; }
    }
}
