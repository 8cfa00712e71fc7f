using AIaaS.Queue.Onnx;

namespace AIaaS.Queue.Workers.Tests;

internal static class TestModels
{
    /// <summary>A 4-feature, 3-class softmax MLP as a real ONNX file, with its reference forward pass.</summary>
    public static (MlpModel Model, byte[] Onnx) Classifier(int seed = 11, int[]? hidden = null)
    {
        var model = MlpModel.CreateRandom(4, hidden ?? [32, 32], 3, Activation.Relu, OutputActivation.Softmax, seed);
        return (model, OnnxModelWriter.Write(model));
    }
}
