namespace AIaaS.Queue.Onnx;

/// <summary>Element-wise activation applied after a dense layer.</summary>
public enum Activation
{
    None,
    Relu,
    Sigmoid,
    Tanh,
}
