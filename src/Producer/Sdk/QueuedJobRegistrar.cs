using System.Threading.Channels;
using AIaaS.Queue.Contracts;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Producer;

/// <summary>
/// Tells the job registry about predict jobs whose publish the broker confirmed, many per message (<see cref="JobsQueued"/>):
/// each message takes every job confirmed within <see cref="Linger"/> of the first, or while the one before was sent, up
/// to <see cref="MaxJobsPerMessage"/>. The
/// registry once took a copy of every command from the broker, which doubled the broker's and the worker's work per job
/// (figure 2 of the benchmark); a group costs one delivery.
/// </summary>
/// <remarks>A job is registered only once its own publish was confirmed, so no job is recorded queued that the broker does
/// not hold. A registration that cannot be sent is logged and dropped: the job still runs, and the API knows it once it has
/// ended. Submits never wait for their registration.</remarks>
internal sealed class QueuedJobRegistrar : IAsyncDisposable
{
    internal const int MaxJobsPerMessage = 500;

    /// <summary>How long a registration waits for others to join its message: submits confirmed within it share one.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);

    // Not SingleReader: that channel's reader cannot count what waits, which the linger below reads.
    private readonly Channel<QueuedJob> _queue = Channel.CreateUnbounded<QueuedJob>();
    private readonly IPublishEndpoint _bus;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly Task _loop;

    public QueuedJobRegistrar(IPublishEndpoint bus, TimeSpan timeout, ILogger logger)
    {
        _bus = bus;
        _timeout = timeout;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Registers <paramref name="job"/>, whose publish the broker has confirmed, with the next message.</summary>
    public void Confirmed(SubmitPredictJob job) => _queue.Writer.TryWrite(QueuedJob.Of(job));

    private async Task RunAsync()
    {
        var group = new List<QueuedJob>(MaxJobsPerMessage);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_queue.Reader.Count < MaxJobsPerMessage && !_queue.Reader.Completion.IsCompleted)
            {
                await Task.Delay(Linger).ConfigureAwait(false);
            }

            while (group.Count < MaxJobsPerMessage && _queue.Reader.TryRead(out var job))
            {
                group.Add(job);
            }

            try
            {
                using var limit = new CancellationTokenSource(_timeout);
                // Not mandatory: where no registry is bound (Workers:RegisterQueuedJobs=false) the broker drops it.
                await _bus.Publish(new JobsQueued { Jobs = [.. group] }, limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "{Count} submitted jobs could not be registered as queued; they run as submitted, and the API knows each once it has ended",
                    group.Count);
            }

            group.Clear();
        }
    }

    /// <summary>Sends what is still waiting, for <see cref="DrainLimit"/> at most.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(DrainLimit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Job registrations still unsent after {Limit} at shutdown were dropped", DrainLimit);
        }
    }
}
