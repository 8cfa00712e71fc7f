using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Onnx;

/// <summary>The inputs and outputs a model declares, in the model's order.</summary>
public sealed record ModelSignature(IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);
