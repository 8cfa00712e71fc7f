using System.Threading.Channels;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// Stores the results of every batch that finished while the previous write ran in one <see cref="IJobStore.CompleteAsync"/>
/// (a group commit). The profile of figure 2 found the worker's batches waiting on the store: one transaction per batch,
/// each waiting for the store's single writer, with the model instance held meanwhile. Once batches hand their results
/// here and let their instance go, they pile up while a write runs, and the next write takes them all.
/// </summary>
/// <remarks>Each caller gets back the (tenant, id) keys that write stored, as from its own <c>CompleteAsync</c>; a write that fails (after
/// waiting out a store outage) fails every batch in it, so none is acknowledged. Two batches holding the same job, the same tenant's JobId (a message
/// redelivered while its first worker still held it) never share a write: only the first would be stored, and both would
/// take the id as theirs, so the second waits for the next write and learns there that the job was already final.</remarks>
internal sealed class ResultWriter
{
    /// <summary>Records per write at most, so that one transaction stays short for the other writers of the store.</summary>
    private const int MaxRecords = 4096;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IJobStore _jobs;
    private readonly StoreOutage _outage;

    public ResultWriter(IJobStore jobs, StoreOutage outage)
    {
        _jobs = jobs;
        _outage = outage;
        _ = Task.Run(RunAsync);
    }

    private sealed record Pending(JobRecord[] Records, TaskCompletionSource<IReadOnlySet<JobKey>> Written);

    /// <summary>Stores the final state of <paramref name="records"/> with whatever else is waiting; answers the keys written.</summary>
    public Task<IReadOnlySet<JobKey>> CompleteAsync(JobRecord[] records)
    {
        var pending = new Pending(records, new TaskCompletionSource<IReadOnlySet<JobKey>>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            pending.Written.TrySetException(new InvalidOperationException("The result writer has stopped."));
        }

        return pending.Written.Task;
    }

    private async Task RunAsync()
    {
        var deferred = new List<Pending>();
        while (deferred.Count > 0 || await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var group = new List<Pending>();
            var keys = new HashSet<JobKey>();
            var records = new List<JobRecord>();
            var carried = deferred;
            deferred = [];
            foreach (var pending in carried)
            {
                Take(pending);
            }

            while (records.Count < MaxRecords && _queue.Reader.TryRead(out var pending))
            {
                Take(pending);
            }

            if (group.Count == 0)
            {
                continue;
            }

            try
            {
                var written = await _outage.WriteAsync(() => _jobs.CompleteAsync(records),
                    $"{records.Count} results of {group.Count} batches").ConfigureAwait(false);
                foreach (var pending in group)
                {
                    pending.Written.TrySetResult(written);
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in group)
                {
                    pending.Written.TrySetException(ex);
                }
            }

            void Take(Pending pending)
            {
                if (Array.Exists(pending.Records, r => keys.Contains(JobKey.Of(r))))
                {
                    deferred.Add(pending);
                    return;
                }

                foreach (var record in pending.Records)
                {
                    keys.Add(JobKey.Of(record));
                }

                group.Add(pending);
                records.AddRange(pending.Records);
            }
        }
    }
}
