namespace AIaaS.Queue.Onnx;

/// <summary>
/// A fully connected layer computing <c>y = act(x W + b)</c>.
/// <paramref name="Weights"/> is W[in, out] in row-major order (length <c>Inputs * Outputs</c>);
/// <paramref name="Bias"/> has length <c>Outputs</c>.
/// </summary>
public sealed record DenseLayer(int Inputs, int Outputs, float[] Weights, float[] Bias, Activation Activation);
