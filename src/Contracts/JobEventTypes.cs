namespace AIaaS.Queue.Contracts;

/// <summary>The values of <see cref="JobEventView.Type"/>: a job's history as the store, the workers and clients name it.</summary>
public static class JobEventTypes
{
    public const string Queued = "queued";
    public const string Started = "started";
    /// <summary>A train attempt failed and the job goes back to the queue for another.</summary>
    public const string AttemptFailed = "attempt-failed";
    /// <summary>The training child read its data (rows, features, classes).</summary>
    public const string DataLoaded = "data-loaded";
    /// <summary>One per training epoch, with its metrics.</summary>
    public const string Epoch = "epoch";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
    /// <summary>Cancellation was asked for while the job runs; "cancelled" follows once the worker stops it.</summary>
    public const string CancelRequested = "cancel-requested";
}
