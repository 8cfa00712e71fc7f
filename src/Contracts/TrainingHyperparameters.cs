namespace AIaaS.Queue.Contracts;

/// <summary>How to train. The defaults suit small tabular data without tuning: features are standardised, Adam at
/// 0.01, mini-batches of 32, up to 200 epochs with early stopping on the validation loss.</summary>
public sealed record TrainingHyperparameters
{
    public int Epochs { get; init; } = 200;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 0.01;
    public TrainingOptimizer Optimizer { get; init; } = TrainingOptimizer.Adam;

    /// <summary>Momentum for <see cref="TrainingOptimizer.Sgd"/>; ignored by Adam.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>L2 penalty (the optimizer's weight decay).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Seeds the split, the initial weights and the shuffling: one seed, one model.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Share of the rows held out for validation (stratified by class for classification).</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Stop after this many epochs without a better validation loss and keep the best weights; 0 turns it off.</summary>
    public int EarlyStoppingPatience { get; init; } = 30;
}
