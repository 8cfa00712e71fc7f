using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>A validated predict job waiting for its batch. Its message is acknowledged when <see cref="Completion"/> ends.</summary>
internal sealed class PendingPrediction(SubmitPredictJob job, string tenantId, PreparedRequest request)
{
    public SubmitPredictJob Job { get; } = job;

    /// <summary>The tenant the consumer verified the job's sender as: whose job it is, and whose records it may touch.</summary>
    public string TenantId { get; } = tenantId;

    /// <summary>The job's key in the store: ids are unique per tenant.</summary>
    public JobKey Key => new(TenantId, Job.JobId);

    /// <summary>The job's inputs, checked against the model and read into tensors.</summary>
    public PreparedRequest Request { get; } = request;

    /// <summary>When the batcher received the job; max-delay counts from here.</summary>
    public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>Where the job's outputs go in the <see cref="ResponseCache"/> once stored; null when its model does not cache.</summary>
    public string? ResponseCacheKey { get; init; }

    /// <summary>The consume span the job arrived in (empty when nobody traces), so that the job's trace continues
    /// through its batch to the stored result.</summary>
    public ActivityContext TraceContext { get; } = Activity.Current?.Context ?? default;

    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Ends once the job's result (or failure) is stored.</summary>
    public Task Completion => _completion.Task;

    public void Stored() => _completion.TrySetResult();

    public void Abandon(Exception reason) => _completion.TrySetException(reason);
}
