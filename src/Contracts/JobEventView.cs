namespace AIaaS.Queue.Contracts;

/// <summary>
/// One entry of a job's history (<c>GET /v1/jobs/{id}/events</c>): lifecycle changes ("queued", "started",
/// "attempt-failed", "succeeded", "failed", "cancelled", "cancel-requested") and, for train jobs, one "epoch" entry per
/// epoch with its metrics.
/// </summary>
public sealed record JobEventView
{
    /// <summary>Increases by one per event of the job, from 1; pass the last one seen as <c>after</c> to read only newer ones.</summary>
    public required long Sequence { get; init; }
    public required string Type { get; init; }
    public required DateTimeOffset At { get; init; }
    public string? Message { get; init; }
    public int? Attempt { get; init; }
    public int? Epoch { get; init; }
    public int? Epochs { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValidationLoss { get; init; }
    public double? ValidationAccuracy { get; init; }
    public double? ValidationRmse { get; init; }
    public double? LearningRate { get; init; }
    public double? ElapsedSeconds { get; init; }
}
