namespace AIaaS.Queue.Contracts;

/// <summary>How a trained model version came about: the job, the data and settings it was trained with, and its metrics.</summary>
public sealed record ModelTrainingInfo
{
    /// <summary>The train job that registered this version; one job registers at most one version.</summary>
    public required Guid TrainingJobId { get; init; }

    /// <summary>"sha256:" and the hex SHA-256 of the training data as the worker read it (file bytes, or inline rows as CSV).</summary>
    public required string DatasetFingerprint { get; init; }

    public required TrainingTask Task { get; init; }
    public required string LabelColumn { get; init; }
    public required IReadOnlyList<string> FeatureColumns { get; init; }

    /// <summary>Class names in output order (classification only): output i is the probability of ClassLabels[i].</summary>
    public IReadOnlyList<string>? ClassLabels { get; init; }

    public required TrainingArchitecture Architecture { get; init; }
    public required TrainingHyperparameters Hyperparameters { get; init; }

    /// <summary>Final metrics: val_loss, val_accuracy or val_rmse, train_loss, epochs, onnx_max_abs_diff, and so on.</summary>
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    public required string Device { get; init; }
}
