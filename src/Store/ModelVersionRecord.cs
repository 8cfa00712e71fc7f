using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>What a caller supplies to register a new model version; the store assigns the version number.</summary>
public sealed record NewModelVersion
{
    public required string Name { get; init; }
    public required IReadOnlyList<TensorSpec> Inputs { get; init; }
    public required IReadOnlyList<TensorSpec> Outputs { get; init; }
    public BatchingSettings? Batching { get; init; }
    public string? Description { get; init; }

    /// <summary>The recipe jobs with text or images go through; null for tensors only.</summary>
    public ModelRecipe? Recipe { get; init; }

    /// <summary>A text recipe's WordPiece vocabulary (the content of <c>vocab.txt</c>), stored with the version and read
    /// back with <see cref="IModelStore.GetVocabularyAsync"/>.</summary>
    public string? Vocabulary { get; init; }

    /// <summary>Set by train jobs. Registration is idempotent on the model name and <see cref="ModelTrainingInfo.TrainingJobId"/>:
    /// a second registration for the same job returns the version the first one made and stores nothing.</summary>
    public ModelTrainingInfo? Training { get; init; }

    /// <summary>The rows explanations average over: a sample of the training data, or an uploaded file; null for none.</summary>
    public ExplanationBackground? Background { get; init; }
}

/// <summary>A registered, immutable model version. The file itself is read with <see cref="IModelStore.CopyFileToAsync"/>.</summary>
public sealed record ModelVersionRecord
{
    public required string Name { get; init; }
    public required int Version { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required long SizeBytes { get; init; }

    /// <summary>Lower-case hex SHA-256 of the file.</summary>
    public required string Sha256 { get; init; }
    public required IReadOnlyList<TensorSpec> Inputs { get; init; }
    public required IReadOnlyList<TensorSpec> Outputs { get; init; }
    public BatchingSettings? Batching { get; init; }
    public string? Description { get; init; }

    public ModelRecipe? Recipe { get; init; }

    /// <summary>Whether a vocabulary is stored with the version.</summary>
    public bool HasVocabulary { get; init; }

    public ModelTrainingInfo? Training { get; init; }

    /// <summary>The background data explanations of this version average over; null: explanations are refused.</summary>
    public ExplanationBackground? Background { get; init; }
}
