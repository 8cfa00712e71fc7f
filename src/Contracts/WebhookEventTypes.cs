namespace AIaaS.Queue.Contracts;

/// <summary>The <c>type</c> of a webhook event: what a receiver switches on.</summary>
public static class WebhookEventTypes
{
    public const string JobSucceeded = "job.succeeded";
    public const string JobFailed = "job.failed";
    public const string JobCancelled = "job.cancelled";
    public const string JobExpired = "job.expired";
    public const string TrainingSucceeded = "training.succeeded";
    public const string TrainingFailed = "training.failed";

    /// <summary>A bulk job's file was scored; its failed records are counted and listed in its error file.</summary>
    public const string BatchCompleted = "batch.completed";
    public const string BatchFailed = "batch.failed";
    public const string BatchCancelled = "batch.cancelled";
    public const string BatchExpired = "batch.expired";
}
