namespace AIaaS.Queue.Contracts;

/// <summary>
/// Why a prediction came out as it did: Kernel SHAP attributions (Lundberg and Lee, 2017) of each input feature, per model
/// output value. For each output, <c>BaseValue + Σ Attributions = Value</c> (exactly in exact mode, to float rounding).
/// </summary>
public sealed record Explanation
{
    public string Method { get; init; } = "kernel-shap";

    /// <summary>True when every coalition of features was evaluated; false when they were sampled.</summary>
    public required bool Exact { get; init; }

    /// <summary>Coalitions evaluated (besides the empty and the full one).</summary>
    public required int Coalitions { get; init; }

    /// <summary>Rows of the background data each coalition was averaged over.</summary>
    public required int BackgroundRows { get; init; }

    /// <summary>Feature names, in input order: from the training metadata or the background file's header.</summary>
    public required IReadOnlyList<string> Features { get; init; }

    public required IReadOnlyList<OutputAttributions> Outputs { get; init; }
}

/// <summary>One explained output value: <see cref="Output"/> at <see cref="Index"/> (a class, say) for this record.</summary>
public sealed record OutputAttributions
{
    public required string Output { get; init; }

    /// <summary>Position in the output's record (row-major); 0 for a single value.</summary>
    public required int Index { get; init; }

    /// <summary>The class name, for a trained classifier's probabilities.</summary>
    public string? Label { get; init; }

    /// <summary>The model's expected output over the background data: what the attributions move away from.</summary>
    public required double BaseValue { get; init; }

    /// <summary>The model's output for this record.</summary>
    public required double Value { get; init; }

    /// <summary>One attribution per feature, in <see cref="Explanation.Features"/> order.</summary>
    public required IReadOnlyList<double> Attributions { get; init; }
}
