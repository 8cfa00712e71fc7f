namespace AIaaS.Queue.Onnx.Tests;

public sealed class MlpModelTests
{
    private static DenseLayer Layer(int inputs, int outputs, Activation activation = Activation.None) =>
        new(inputs, outputs, new float[inputs * outputs], new float[outputs], activation);

    [Fact]
    public void ConstructorRejectsLayersThatDoNotChain()
    {
        var ex = Assert.Throws<ArgumentException>(() => new MlpModel([Layer(4, 8), Layer(6, 2)], OutputActivation.None));

        Assert.Equal("layers", ex.ParamName);
        Assert.Contains("Layer 1 expects 6 inputs but layer 0 produces 8 outputs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConstructorRejectsWeightsOfWrongLength()
    {
        var layer = new DenseLayer(3, 2, new float[5], new float[2], Activation.None);

        var ex = Assert.Throws<ArgumentException>(() => new MlpModel([layer], OutputActivation.None));

        Assert.Contains("has 5 weights; expected Inputs * Outputs = 3 * 2 = 6", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConstructorRejectsBiasOfWrongLength()
    {
        var layer = new DenseLayer(3, 2, new float[6], new float[3], Activation.None);

        var ex = Assert.Throws<ArgumentException>(() => new MlpModel([layer], OutputActivation.None));

        Assert.Contains("has 3 biases; expected one per output (2)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConstructorRejectsNoLayers()
    {
        Assert.Throws<ArgumentException>(() => new MlpModel([], OutputActivation.Softmax));
    }

    [Fact]
    public void ConstructorRejectsNonPositiveSizes()
    {
        Assert.Throws<ArgumentException>(() => new MlpModel([new DenseLayer(0, 2, [], new float[2], Activation.None)], OutputActivation.None));
    }

    [Fact]
    public void ConstructorRejectsSameInputAndOutputName()
    {
        Assert.Throws<ArgumentException>(() => new MlpModel([Layer(2, 2)], OutputActivation.None, "x", "x"));
    }

    [Fact]
    public void SizesComeFromFirstAndLastLayer()
    {
        var model = new MlpModel([Layer(4, 16, Activation.Relu), Layer(16, 3)], OutputActivation.Softmax);

        Assert.Equal((4, 3), (model.InputSize, model.OutputSize));
    }

    [Fact]
    public void CreateRandomUsesHiddenActivationAndLeavesLastLayerLinear()
    {
        var model = MlpModel.CreateRandom(8, [32, 32], 1, Activation.Tanh, OutputActivation.Sigmoid, seed: 7);

        Assert.Equal([Activation.Tanh, Activation.Tanh, Activation.None], model.Layers.Select(l => l.Activation));
        Assert.Equal([(8, 32), (32, 32), (32, 1)], model.Layers.Select(l => (l.Inputs, l.Outputs)));
        Assert.Equal(OutputActivation.Sigmoid, model.OutputActivation);
    }

    [Fact]
    public void ForwardRejectsBatchOfWrongLength()
    {
        var model = new MlpModel([Layer(4, 2)], OutputActivation.None);

        Assert.Throws<ArgumentException>(() => model.Forward(new float[7], 2));
    }

    [Fact]
    public void ForwardAppliesSigmoidToOutput()
    {
        var model = new MlpModel([new DenseLayer(1, 1, [1f], [0f], Activation.None)], OutputActivation.Sigmoid);

        Assert.Equal(0.5f, model.Forward([0f], 1)[0]);
    }
}
