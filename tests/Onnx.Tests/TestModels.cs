namespace AIaaS.Queue.Onnx.Tests;

internal static class TestModels
{
    public static readonly IReadOnlyDictionary<string, Func<MlpModel>> ByName = new Dictionary<string, Func<MlpModel>>
    {
        ["4-16-3 relu softmax"] = () => MlpModel.CreateRandom(4, [16], 3, Activation.Relu, OutputActivation.Softmax, seed: 1),
        ["8-32-32-1 relu sigmoid"] = () => MlpModel.CreateRandom(8, [32, 32], 1, Activation.Relu, OutputActivation.Sigmoid, seed: 2),
        ["6-12-12-5 tanh none"] = () => MlpModel.CreateRandom(6, [12, 12], 5, Activation.Tanh, OutputActivation.None, seed: 3),
        ["3-9-2 sigmoid softmax"] = () => MlpModel.CreateRandom(3, [9], 2, Activation.Sigmoid, OutputActivation.Softmax, seed: 4),
        ["5-4 single layer none"] = () => MlpModel.CreateRandom(5, [], 4, Activation.Relu, OutputActivation.None, seed: 5),
        ["last layer tanh then sigmoid"] = () => new MlpModel(
            [
                MlpModel.CreateRandom(4, [], 6, Activation.None, OutputActivation.None, seed: 6).Layers[0] with { Activation = Activation.Relu },
                MlpModel.CreateRandom(6, [], 2, Activation.None, OutputActivation.None, seed: 7).Layers[0] with { Activation = Activation.Tanh },
            ],
            OutputActivation.Sigmoid),
    };

    /// <summary>Deterministic inputs in [-2, 2), wide enough to reach both sides of every activation.</summary>
    public static float[] RandomBatch(int batchSize, int inputSize, int seed)
    {
        var random = new Random(seed);
        var values = new float[batchSize * inputSize];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (random.NextSingle() * 4f) - 2f;
        }

        return values;
    }
}
