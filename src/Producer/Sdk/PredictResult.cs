using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>A succeeded prediction: the job as stored and its outputs by model output name (read their values with
/// <see cref="Tensors.ToArray{T}(InferTensor)"/> or <see cref="Tensors.ToFloats(InferTensor)"/>).</summary>
public sealed record PredictResult(JobView Job, IReadOnlyDictionary<string, InferTensor> Outputs)
{
    /// <summary>The per-feature attributions, when the request asked for them (<see cref="PredictRequest.Explain"/>).</summary>
    public Explanation? Explanation { get; init; }
}
