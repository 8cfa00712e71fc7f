namespace AIaaS.Queue.Contracts;

/// <summary>
/// The background data of a model version, which explanations average over: a summary of the training data (trained
/// versions) or an uploaded file (registered versions), at most <see cref="MaxRows"/> rows of raw input features.
/// </summary>
public sealed record ExplanationBackground
{
    /// <summary>Kernel SHAP's cost grows with the background's rows; a sample of this size is the reference's advice.</summary>
    public const int MaxRows = 100;

    /// <summary>Feature names in input order.</summary>
    public required IReadOnlyList<string> Features { get; init; }

    /// <summary>The rows, each as long as <see cref="Features"/>.</summary>
    public required IReadOnlyList<float[]> Rows { get; init; }

    /// <summary>A weight per row (for example the size of a cluster it stands for); null for equal weights.</summary>
    public IReadOnlyList<double>? Weights { get; init; }

    /// <summary>Where it came from: "training-sample" or "uploaded".</summary>
    public required string Source { get; init; }
}
