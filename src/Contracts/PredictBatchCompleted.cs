namespace AIaaS.Queue.Contracts;

/// <summary>
/// Event: a worker finished one model call and stored the results of every job in it.
/// One event per batch rather than per job keeps the broker's work proportional to model calls.
/// </summary>
public sealed record PredictBatchCompleted
{
    public required string BatchId { get; init; }
    public required string Model { get; init; }
    public required int ModelVersion { get; init; }
    public required string Device { get; init; }
    public required string WorkerId { get; init; }
    public required int BatchSize { get; init; }
    public required double ModelMilliseconds { get; init; }
    public required IReadOnlyList<JobOutcome> Jobs { get; init; }

    /// <summary>Rows in the model call: the batch dimension, which counts a request of several rows as several.</summary>
    public int Rows { get; init; }

    /// <summary>Real elements over elements sent, across the padded inputs; 1 when nothing was padded.</summary>
    public double PaddingEfficiency { get; init; } = 1;

    /// <summary>The tenant whose jobs this event reports, and so its routing key (<see cref="ClientEventRouting"/>): only that
    /// tenant's clients hear it. Null from older workers.</summary>
    public string? TenantId { get; init; }

    public required DateTimeOffset CompletedAt { get; init; }

    /// <summary>The jobs were answered from the worker's response cache: no model call ran (<see cref="ModelMilliseconds"/> 0).</summary>
    public bool FromResponseCache { get; init; }
}
