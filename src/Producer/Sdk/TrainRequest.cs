using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>A train job: an MLP trained on tabular data and registered as the next version of <see cref="Model"/>.</summary>
public sealed record TrainRequest
{
    /// <summary>The model name to register the trained network under.</summary>
    public required string Model { get; init; }

    /// <summary>Inline rows, or an uploaded file (<see cref="IAiaasClient.UploadDatasetAsync"/>).</summary>
    public required TrainingDataset Dataset { get; init; }

    /// <summary>The column to predict; every other column is a feature unless <see cref="FeatureColumns"/> names them.</summary>
    public required string LabelColumn { get; init; }

    public IReadOnlyList<string>? FeatureColumns { get; init; }

    public TrainingTask Task { get; init; } = TrainingTask.MulticlassClassification;

    /// <summary>Null: two hidden layers of 32 with ReLU.</summary>
    public TrainingArchitecture? Architecture { get; init; }

    /// <summary>Null: defaults that suit small tabular data (see <see cref="TrainingHyperparameters"/>).</summary>
    public TrainingHyperparameters? Hyperparameters { get; init; }

    /// <summary>Wall-clock limit per attempt; null is one hour.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Where to POST a signed event when the job finishes; null uses <see cref="AiaasClientOptions.DefaultCallbackUrl"/>.</summary>
    public Uri? CallbackUrl { get; init; }

    /// <summary>Your own id for the job (the idempotency key); null lets the SDK make one.</summary>
    public Guid? JobId { get; init; }

    /// <summary>Inline rows from a table of numbers and a label per row.</summary>
    public static TrainingDataset InlineRows(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows) =>
        new() { Columns = columns, Rows = rows.ToList() };
}
