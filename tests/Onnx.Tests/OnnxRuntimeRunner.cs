using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Onnx.Tests;

/// <summary>Runs a model with a real ONNX Runtime session, the way the workers do.</summary>
internal static class OnnxRuntimeRunner
{
    public static float[] Run(byte[] model, string inputName, string outputName, float[] batch, int batchSize, int inputSize)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(batch, [batchSize, inputSize]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public static long[] OutputShape(byte[] model, string inputName, string outputName, float[] batch, int batchSize, int inputSize)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(batch, [batchSize, inputSize]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        return outputs[0].GetTensorTypeAndShape().Shape;
    }
}
