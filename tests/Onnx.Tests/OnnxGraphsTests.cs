using AIaaS.Queue.TestSupport;
using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx.Tests;

/// <summary>The test graphs load in ONNX Runtime with the signature they promise, and run.</summary>
public sealed class OnnxGraphsTests
{
    public static TheoryData<TensorElementType> ServedTypes() => ServedElementTypes.All();

    [Theory]
    [MemberData(nameof(ServedTypes))]
    public void IdentityOfEveryServedTypeKeepsTypeShapeAndSymbolicNames(TensorElementType type)
    {
        var model = OnnxGraphs.Identity(type, ["batch", "n"]);

        using var session = new InferenceSession(model);
        foreach (var meta in new[] { session.InputMetadata["input"], session.OutputMetadata["output"] })
        {
            Assert.Equal(type, meta.ElementDataType);
            Assert.Equal([-1, -1], meta.Dimensions);
            Assert.Equal(["batch", "n"], meta.SymbolicDimensions);
        }

        var signature = OnnxModelInspector.Inspect(model);
        Assert.Equal(OnnxTypes.Datatype(type), Assert.Single(signature.Inputs).Datatype);
        Assert.Equal(["batch", "n"], Assert.Single(signature.Outputs).DimensionNames!);
        Assert.Equal(BatchMode.Dynamic, signature.BatchMode);
    }

    [Theory]
    [MemberData(nameof(ServedTypes))]
    public void IdentityOfEveryServedTypeReturnsItsInputExactly(TensorElementType type)
    {
        var values = TypedTensors.Sample(type);

        var output = TypedTensors.Run(OnnxGraphs.Identity(type, ["batch", "n"]), new Dictionary<string, (Array, long[])>
        {
            ["input"] = (values, [2, 3]),
        })["output"];

        Assert.Equal(type, output.Type);
        Assert.Equal([2, 3], output.Shape);
        Assert.Equal(values.Cast<object>(), output.Values.Cast<object>());
    }

    [Fact]
    public void IdentityMixesFixedAndSymbolicDimensions()
    {
        var signature = OnnxModelInspector.Inspect(OnnxGraphs.Identity(TensorElementType.Int64, ["batch", "sequence", 4], "tokens", "same"));

        var input = Assert.Single(signature.Inputs);
        Assert.Equal(("tokens", "INT64"), (input.Name, input.Datatype));
        Assert.Equal([-1, -1, 4], input.Shape);
        Assert.Equal(["batch", "sequence", null], input.DimensionNames!);
        Assert.Equal(["batch", "sequence", null], Assert.Single(signature.Outputs).DimensionNames!);
    }

    [Fact]
    public void IdsAndFeaturesHasTwoTypedInputsAndOutputsComputedPerRow()
    {
        var model = OnnxGraphs.IdsAndFeatures();
        var signature = OnnxModelInspector.Inspect(model);
        Assert.Equal([(OnnxGraphs.Ids, "INT64"), (OnnxGraphs.Features, "FP32")], signature.Inputs.Select(i => (i.Name, i.Datatype)));
        Assert.Equal([(OnnxGraphs.IdsPlusOne, "INT64"), (OnnxGraphs.Scaled, "FP32")], signature.Outputs.Select(o => (o.Name, o.Datatype)));
        Assert.Equal([-1, 3], signature.Outputs[1].Shape);
        Assert.Equal(BatchMode.Dynamic, signature.BatchMode);

        var outputs = TypedTensors.Run(model, new Dictionary<string, (Array, long[])>
        {
            [OnnxGraphs.Ids] = (new long[] { 1, 2, 3, 10, 20, 30 }, [2, 3]),
            [OnnxGraphs.Features] = (new[] { 1f, 0.5f, -1f, 0.1f, 0f, 2f }, [2, 3]),
        });

        Assert.Equal([2, 3], outputs[OnnxGraphs.IdsPlusOne].Shape);
        Assert.Equal(new long[] { 2, 3, 4, 11, 21, 31 }, (long[])outputs[OnnxGraphs.IdsPlusOne].Values);
        Assert.Equal(TensorElementType.Float, outputs[OnnxGraphs.Scaled].Type);
        Assert.Equal(new[] { 6f, 3f, -6f, 6f, 0f, 120f }, (float[])outputs[OnnxGraphs.Scaled].Values);
    }

    [Fact]
    public void IdsAndFeaturesRunsOneOutputAlone()
    {
        var outputs = TypedTensors.Run(OnnxGraphs.IdsAndFeatures(), new Dictionary<string, (Array, long[])>
        {
            [OnnxGraphs.Ids] = (new long[] { 5, -5 }, [1, 2]),
            [OnnxGraphs.Features] = (new float[] { 1, 2, 3 }, [1, 3]),
        }, OnnxGraphs.Scaled);

        Assert.Equal([OnnxGraphs.Scaled], outputs.Keys);
        Assert.Equal([0f, 0f, 0f], (float[])outputs[OnnxGraphs.Scaled].Values);
    }

    [Fact]
    public void EmbeddingLooksUpOneRowPerIdAndRefusesIdsBeyondItsVocabulary()
    {
        var model = OnnxGraphs.Embedding(vocabulary: 4, width: 2);
        var output = Assert.Single(OnnxModelInspector.Inspect(model).Outputs);
        Assert.Equal([-1, -1, 2], output.Shape);
        Assert.Equal(["batch", "sequence", null], output.DimensionNames!);

        var vectors = TypedTensors.Run(model, new Dictionary<string, (Array, long[])>
        {
            [OnnxGraphs.Ids] = (new long[] { 0, 3, -1 }, [1, 3]),
        })[OnnxGraphs.Vectors];

        Assert.Equal([1, 3, 2], vectors.Shape);
        Assert.Equal([0f, 0.1f, 3f, 3.1f, 3f, 3.1f], (float[])vectors.Values);
        var beyond = Assert.Throws<OnnxRuntimeException>(() => TypedTensors.Run(model, new Dictionary<string, (Array, long[])>
        {
            [OnnxGraphs.Ids] = (new long[] { 0, 4 }, [1, 2]),
        }));
        Assert.Contains("out of", beyond.Message, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Why a request that names its outputs saves storage but not computation: ONNX Runtime runs every node of
    /// the graph whatever outputs a call asks for, so a node that fails fails the call even when no requested output
    /// depends on it.</summary>
    [Fact]
    public void OnnxRuntimeRunsEveryNodeWhateverOutputsAreRequested()
    {
        var model = Protos.ModelProto.Parser.ParseFrom(OnnxGraphs.Embedding(vocabulary: 4, width: 2));
        var copy = new Protos.NodeProto { OpType = "Identity", Name = "copy" };
        copy.Input.Add(OnnxGraphs.Ids);
        copy.Output.Add("ids_copy");
        model.Graph.Node.Add(copy);
        var copyOutput = model.Graph.Input[0].Clone();
        copyOutput.Name = "ids_copy";
        model.Graph.Output.Add(copyOutput);
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(model);
        long[] inVocabulary = [3];
        long[] beyond = [9];

        var copied = TypedTensors.Run(bytes, new Dictionary<string, (Array, long[])> { [OnnxGraphs.Ids] = (inVocabulary, [1, 1]) }, "ids_copy");
        Assert.Equal(inVocabulary, (long[])copied["ids_copy"].Values);

        var failed = Assert.Throws<OnnxRuntimeException>(() =>
            TypedTensors.Run(bytes, new Dictionary<string, (Array, long[])> { [OnnxGraphs.Ids] = (beyond, [1, 1]) }, "ids_copy"));
        Assert.Contains("Gather", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelWithoutABatchDimensionRunsItsWholeFixedShape()
    {
        var model = OnnxGraphs.Identity(TensorElementType.Float, [3]);
        Assert.Equal(BatchMode.None, OnnxModelInspector.Inspect(model).BatchMode);

        float[] values = [1f, 2f, 3f];

        var output = TypedTensors.Run(model, new Dictionary<string, (Array, long[])> { ["input"] = (values, [3]) })["output"];

        Assert.Equal([3], output.Shape);
        Assert.Equal(values, (float[])output.Values);
    }

    [Fact]
    public void ARankZeroModelRunsOneScalar()
    {
        var model = OnnxGraphs.Identity(TensorElementType.Int32, []);
        var signature = OnnxModelInspector.Inspect(model);
        Assert.Empty(Assert.Single(signature.Inputs).Shape);
        Assert.Equal(BatchMode.None, signature.BatchMode);

        int[] scalar = [-7];

        var output = TypedTensors.Run(model, new Dictionary<string, (Array, long[])> { ["input"] = (scalar, []) })["output"];

        Assert.Empty(output.Shape);
        Assert.Equal(scalar, (int[])output.Values);
    }

    [Fact]
    public void AModelWithBatchFixedAtOneRunsOneRowAndRefusesTwo()
    {
        var model = OnnxGraphs.Identity(TensorElementType.Float, [1, 4]);
        Assert.Equal(BatchMode.FixedOne, OnnxModelInspector.Inspect(model).BatchMode);

        float[] row = [1f, 2f, 3f, 4f];
        var output = TypedTensors.Run(model, new Dictionary<string, (Array, long[])> { ["input"] = (row, [1, 4]) })["output"];
        Assert.Equal([1, 4], output.Shape);

        // The fixed dimension is real: ONNX Runtime itself refuses a batch of two.
        Assert.Throws<OnnxRuntimeException>(() =>
            TypedTensors.Run(model, new Dictionary<string, (Array, long[])> { ["input"] = (new float[8], [2, 4]) }));
    }

    [Fact]
    public void IdentityRefusesNamesAndTypesItCannotWrite()
    {
        Assert.Throws<ArgumentException>(() => OnnxGraphs.Identity(TensorElementType.Float, [1], "same", "same"));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxGraphs.Identity(TensorElementType.Complex64, [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxGraphs.Identity(TensorElementType.Float, [-1]));
    }
}
