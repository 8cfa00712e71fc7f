using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Onnx;

/// <summary>The inputs and outputs a model declares, in the model's order.</summary>
public sealed record ModelSignature(IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    /// <summary>How requests are merged along the first dimension; see <see cref="OnnxTypes.BatchModeOf"/>.</summary>
    public BatchMode BatchMode => OnnxTypes.BatchModeOf(Inputs);
}
