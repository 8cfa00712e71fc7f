using AIaaS.Queue.Onnx.Protos;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Onnx.Tests;

public sealed class OnnxModelWriterTests
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string, int> ModelsAndBatchSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in TestModels.ByName.Keys)
        {
            data.Add(name, 1);
            data.Add(name, 37);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ModelsAndBatchSizes))]
    public void OnnxRuntimeRunsWrittenMlpAndMatchesReferenceForward(string modelName, int batchSize)
    {
        var model = TestModels.ByName[modelName]();
        var batch = TestModels.RandomBatch(batchSize, model.InputSize, seed: batchSize);

        var expected = model.Forward(batch, batchSize);
        var actual = OnnxRuntimeRunner.Run(
            OnnxModelWriter.Write(model), model.InputName, model.OutputName, batch, batchSize, model.InputSize);

        Assert.Equal(batchSize * model.OutputSize, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(
                MathF.Abs(expected[i] - actual[i]) <= Tolerance,
                $"Element {i}: reference {expected[i]}, ONNX Runtime {actual[i]}.");
        }
    }

    [Fact]
    public void OnnxRuntimeOutputHasBatchRowsOfOutputSize()
    {
        var model = TestModels.ByName["4-16-3 relu softmax"]();
        var batch = TestModels.RandomBatch(37, 4, seed: 9);

        var shape = OnnxRuntimeRunner.OutputShape(OnnxModelWriter.Write(model), "input", "output", batch, 37, 4);

        Assert.Equal([37L, 3L], shape);
    }

    [Fact]
    public void SoftmaxRowsFromOnnxRuntimeSumToOne()
    {
        var model = MlpModel.CreateRandom(4, [16], 3, Activation.Relu, OutputActivation.Softmax, seed: 11);
        var batch = TestModels.RandomBatch(37, 4, seed: 12);

        var output = OnnxRuntimeRunner.Run(OnnxModelWriter.Write(model), "input", "output", batch, 37, 4);

        for (var row = 0; row < 37; row++)
        {
            var probabilities = output.AsSpan(row * 3, 3);
            var sum = 0f;
            foreach (var p in probabilities)
            {
                Assert.InRange(p, 0f, 1f);
                sum += p;
            }

            Assert.Equal(1f, sum, Tolerance);
        }
    }

    [Fact]
    public void HandWrittenWeightsAreReadAsInputsByOutputsRowMajor()
    {
        // W[in=2, out=3] = [[1, 2, 3], [4, 5, 6]]; x = [1, -1] gives x W = [-3, -3, -3], plus b = [1, 3, 5].
        var layer = new DenseLayer(2, 3, [1, 2, 3, 4, 5, 6], [1, 3, 5], Activation.Relu);
        var model = new MlpModel([layer], OutputActivation.None);
        float[] x = [1f, -1f];

        var reference = model.Forward(x, 1);
        var onnx = OnnxRuntimeRunner.Run(OnnxModelWriter.Write(model), "input", "output", x, 1, 2);

        Assert.Equal([0f, 0f, 2f], reference);
        Assert.Equal([0f, 0f, 2f], onnx);
    }

    [Fact]
    public void CustomInputAndOutputNamesAreUsedInTheGraph()
    {
        var random = MlpModel.CreateRandom(3, [5], 2, Activation.Tanh, OutputActivation.Sigmoid, seed: 13);
        var model = new MlpModel(random.Layers, random.OutputActivation, "features", "scores");
        var batch = TestModels.RandomBatch(4, 3, seed: 14);

        var output = OnnxRuntimeRunner.Run(OnnxModelWriter.Write(model), "features", "scores", batch, 4, 3);

        Assert.Equal(model.Forward(batch, 4), output, (a, b) => MathF.Abs(a - b) <= Tolerance);
    }

    [Fact]
    public void WrittenModelDeclaresIrVersion8Opset17AndProducer()
    {
        var model = TestModels.ByName["8-32-32-1 relu sigmoid"]();

        var proto = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(model));

        Assert.Equal(8, proto.IrVersion);
        var opset = Assert.Single(proto.OpsetImport);
        Assert.Equal((string.Empty, 17L), (opset.Domain, opset.Version));
        Assert.Equal("AIaaS.Queue", proto.ProducerName);
        Assert.Equal(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Sigmoid"], proto.Graph.Node.Select(n => n.OpType));
        Assert.Equal("output", proto.Graph.Node[^1].Output.Single());
    }

    [Fact]
    public void BatchDimensionIsSymbolicAndFeatureDimensionIsFixed()
    {
        var model = TestModels.ByName["4-16-3 relu softmax"]();

        var graph = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(model)).Graph;

        var inputDims = Assert.Single(graph.Input).Type.TensorType.Shape.Dim;
        Assert.Equal("batch", inputDims[0].DimParam);
        Assert.Equal(4, inputDims[1].DimValue);
        var outputDims = Assert.Single(graph.Output).Type.TensorType.Shape.Dim;
        Assert.Equal("batch", outputDims[0].DimParam);
        Assert.Equal(3, outputDims[1].DimValue);
    }

    [Fact]
    public void WeightsAreStoredAsLittleEndianFloat32RawData()
    {
        var layer = new DenseLayer(1, 2, [1.5f, -2.25f], [0.5f, 0f], Activation.None);

        var graph = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(new MlpModel([layer], OutputActivation.None))).Graph;

        var weight = graph.Initializer.Single(t => t.Name == "dense0.weight");
        Assert.Equal([1L, 2L], weight.Dims);
        Assert.Equal((int)TensorProto.Types.DataType.Float, weight.DataType);
        Assert.Equal([0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x10, 0xC0], weight.RawData.ToByteArray());
        Assert.Empty(weight.FloatData);
    }

    [Fact]
    public void SoftmaxNodeNormalisesOverTheLastAxis()
    {
        var model = TestModels.ByName["4-16-3 relu softmax"]();

        var softmax = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(model)).Graph.Node[^1];

        Assert.Equal("Softmax", softmax.OpType);
        var axis = Assert.Single(softmax.Attribute);
        Assert.Equal(("axis", -1L, AttributeProto.Types.AttributeType.Int), (axis.Name, axis.I, axis.Type));
    }

    [Fact]
    public void MetadataIsReadableThroughOnnxRuntime()
    {
        var model = TestModels.ByName["4-16-3 relu softmax"]();
        var metadata = new Dictionary<string, string> { ["job"] = "train-42", ["labels"] = "cat,dog,bird" };

        using var session = new InferenceSession(OnnxModelWriter.Write(model, metadata));

        Assert.Equal("AIaaS.Queue", session.ModelMetadata.ProducerName);
        Assert.Equal("train-42", session.ModelMetadata.CustomMetadataMap["job"]);
        Assert.Equal("cat,dog,bird", session.ModelMetadata.CustomMetadataMap["labels"]);
    }

    [Fact]
    public void StreamAndByteArrayOverloadsWriteTheSameBytes()
    {
        var model = TestModels.ByName["6-12-12-5 tanh none"]();
        using var stream = new MemoryStream();

        OnnxModelWriter.Write(model, stream);

        Assert.Equal(OnnxModelWriter.Write(model), stream.ToArray());
    }

    [Fact]
    public void SameSeedGivesSameModelBytesAndOtherSeedDoesNot()
    {
        byte[] Write(int seed) =>
            OnnxModelWriter.Write(MlpModel.CreateRandom(4, [8], 2, Activation.Relu, OutputActivation.Softmax, seed));

        Assert.Equal(Write(1), Write(1));
        Assert.NotEqual(Write(1), Write(2));
    }

    [Fact]
    public void WriterRejectsInputNameThatCollidesWithAGeneratedName()
    {
        var random = MlpModel.CreateRandom(2, [], 2, Activation.None, OutputActivation.None, seed: 1);
        var model = new MlpModel(random.Layers, OutputActivation.None, inputName: "dense0.weight");

        var ex = Assert.Throws<ArgumentException>(() => OnnxModelWriter.Write(model));

        Assert.Contains("dense0.weight", ex.Message, StringComparison.Ordinal);
    }
}
