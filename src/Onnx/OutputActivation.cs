namespace AIaaS.Queue.Onnx;

/// <summary>Activation applied to the network output; <see cref="Softmax"/> normalises each row (last axis).</summary>
public enum OutputActivation
{
    None,
    Sigmoid,
    Softmax,
}
