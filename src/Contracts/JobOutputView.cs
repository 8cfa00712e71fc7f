namespace AIaaS.Queue.Contracts;

/// <summary>The outputs of a succeeded job (<c>GET /v1/jobs/{id}/output</c>), in the Open Inference Protocol's response
/// form: each output with its name, datatype, shape (batch dimension first where the model has one) and data.</summary>
public sealed record JobOutputView
{
    public required Guid Id { get; init; }
    public required string Model { get; init; }
    public required int ModelVersion { get; init; }
    public required IReadOnlyList<InferTensor> Outputs { get; init; }

    /// <summary>The outputs came from a worker's response cache, not from a model call of their own.</summary>
    public bool Cached { get; init; }

    /// <summary>Per-feature attributions of the prediction, when the job asked for an explanation; null otherwise.</summary>
    public Explanation? Explanation { get; init; }
}
