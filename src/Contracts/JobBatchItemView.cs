namespace AIaaS.Queue.Contracts;

/// <summary>What <c>POST /v1/jobs/batch</c> did with one job of the body: queued it now (<see cref="Status"/> 202), found it
/// already queued under its JobId (200, a safe repeat), or refused it (400, 404, 429) with <see cref="Title"/> and
/// <see cref="Detail"/> as <c>POST /v1/jobs</c> would have answered.</summary>
public sealed record JobBatchItemView
{
    /// <summary>The job's id: the one given, or the one the API chose. Submitting the item again with it is safe.</summary>
    public required Guid JobId { get; init; }

    /// <summary>The HTTP status <c>POST /v1/jobs</c> would have answered for this job alone.</summary>
    public required int Status { get; init; }

    /// <summary>The job as recorded; null when refused.</summary>
    public JobView? Job { get; init; }

    public string? Title { get; init; }
    public string? Detail { get; init; }

    /// <summary>For 429: when to submit the refused items again.</summary>
    public int? RetryAfterSeconds { get; init; }
}
