namespace AIaaS.Queue.Contracts;

/// <summary>One registered version of a model.</summary>
public sealed record ModelView
{
    public required string Name { get; init; }
    public required int Version { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required long SizeBytes { get; init; }
    public required string Sha256 { get; init; }
    public required IReadOnlyList<TensorSpec> Inputs { get; init; }
    public required IReadOnlyList<TensorSpec> Outputs { get; init; }
    public BatchingSettings? Batching { get; init; }

    /// <summary>How requests are merged: along a dynamic batch dimension, one per call (batch fixed at 1), or unbatched.</summary>
    public BatchMode BatchMode { get; init; }
    public string? Description { get; init; }

    /// <summary>The pre- and post-processing jobs with text or images go through; null for a model that takes tensors only.</summary>
    public ModelRecipe? Recipe { get; init; }

    /// <summary>Whether a vocabulary file (a text recipe's <c>vocab.txt</c>) is stored with the version.</summary>
    public bool HasVocabulary { get; init; }

    /// <summary>Set on versions registered by a train job.</summary>
    public ModelTrainingInfo? Training { get; init; }

    /// <summary>The feature names of the background data explanations average over; null when the version has none (its
    /// explanations are refused).</summary>
    public IReadOnlyList<string>? BackgroundFeatures { get; init; }

    /// <summary>Rows of background data (at most 100); 0 when the version has none.</summary>
    public int BackgroundRows { get; init; }
}
