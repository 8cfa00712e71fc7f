namespace AIaaS.Queue.Contracts;

/// <summary>
/// Command: train an MLP on tabular data and register it as the next version of <see cref="Model"/>.
/// </summary>
public sealed record SubmitTrainJob
{
    /// <summary>Client-chosen or SDK-generated id; also the idempotency key: a repeated id yields one job and at most one model version.</summary>
    public required Guid JobId { get; init; }

    /// <summary>The model name the trained network is registered under.</summary>
    public required string Model { get; init; }

    public required TrainingDataset Dataset { get; init; }

    /// <summary>The column to predict; every other column is a feature, unless <see cref="FeatureColumns"/> names them.</summary>
    public required string LabelColumn { get; init; }

    public IReadOnlyList<string>? FeatureColumns { get; init; }

    public TrainingTask Task { get; init; } = TrainingTask.MulticlassClassification;

    public TrainingArchitecture Architecture { get; init; } = new();

    public TrainingHyperparameters Hyperparameters { get; init; } = new();

    /// <summary>Wall-clock limit for one attempt; the job fails when it is reached.</summary>
    public double TimeoutSeconds { get; init; } = 3600;

    /// <summary>Where to POST a signed event when the job reaches its final state (Standard Webhooks); null for none.</summary>
    public string? CallbackUrl { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }

    /// <summary>The sending tenant and proof of its API key; null on the open embedded default (the default tenant).</summary>
    public TenantCredentials? Sender { get; init; }
}
