namespace AIaaS.Queue.Contracts;

/// <summary>Event: a train job finished one epoch.</summary>
public sealed record TrainingProgressed
{
    public required Guid JobId { get; init; }
    public required int Epoch { get; init; }
    public required int Epochs { get; init; }
    public required double TrainLoss { get; init; }
    public required double ValidationLoss { get; init; }

    /// <summary>Classification only.</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>Regression only, in the label's own units.</summary>
    public double? ValidationRmse { get; init; }

    public required double LearningRate { get; init; }
    public required double ElapsedSeconds { get; init; }
    public required DateTimeOffset At { get; init; }
}
