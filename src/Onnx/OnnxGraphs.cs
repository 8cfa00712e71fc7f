using AIaaS.Queue.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx;

/// <summary>
/// Tiny ONNX models for tests: every element type, several inputs and outputs, and each batch mode (a dynamic batch
/// dimension, one fixed at 1, none), so that the serving path can be checked exactly without a real model. IR version 8,
/// opset 17, which ONNX Runtime 1.x runs; Identity is defined there for every tensor type (string, bool, float16 and
/// bfloat16 included).
/// </summary>
public static class OnnxGraphs
{
    private const long IrVersion = 8;
    private const long OpsetVersion = 17;

    /// <summary>Input of <see cref="IdsAndFeatures"/>: INT64 [batch, n].</summary>
    public const string Ids = "ids";

    /// <summary>Input of <see cref="IdsAndFeatures"/>: FP32 [batch, 3].</summary>
    public const string Features = "features";

    /// <summary>Output of <see cref="IdsAndFeatures"/>: INT64 [batch, n], each id plus one.</summary>
    public const string IdsPlusOne = "ids_plus_one";

    /// <summary>Output of <see cref="IdsAndFeatures"/>: FP32 [batch, 3], each row's features times the sum of its ids.</summary>
    public const string Scaled = "scaled";

    /// <summary>Output of <see cref="Embedding"/>: FP32 [batch, sequence, width], one table row per id.</summary>
    public const string Vectors = "vectors";

    /// <summary>
    /// Output = input, of <paramref name="elementType"/> and <paramref name="shape"/>; the output declares the same
    /// dimensions, symbolic names included. A first dimension that is symbolic makes a model batched dynamically, one fixed
    /// at 1 a model of fixed batch one, and anything else (<c>[3]</c>, or rank 0: <c>[]</c>) a model without a batch dimension.
    /// </summary>
    public static byte[] Identity(TensorElementType elementType, IReadOnlyList<GraphDimension> shape, string inputName = "input",
        string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputName);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputName);
        if (inputName == outputName)
        {
            throw new ArgumentException("The input and the output need different names.", nameof(outputName));
        }

        var graph = new GraphProto { Name = $"identity_{OnnxTypes.NumpyName(elementType)}" };
        graph.Input.Add(Value(inputName, elementType, shape));
        graph.Output.Add(Value(outputName, elementType, shape));
        graph.Node.Add(Node("Identity", "identity", [inputName], outputName));
        return Model(graph);
    }

    /// <summary>
    /// Two inputs of different types and two outputs of different types: <see cref="Ids"/> INT64 [batch, n] and
    /// <see cref="Features"/> FP32 [batch, 3] give <see cref="IdsPlusOne"/> INT64 [batch, n] (ids + 1) and
    /// <see cref="Scaled"/> FP32 [batch, 3] (features × the sum of the row's ids). Each output row depends on its own
    /// rows of both inputs, so a batch that mixed up rows or inputs would show it.
    /// </summary>
    public static byte[] IdsAndFeatures()
    {
        var graph = new GraphProto { Name = "ids_and_features" };
        graph.Input.Add(Value(Ids, TensorElementType.Int64, ["batch", "n"]));
        graph.Input.Add(Value(Features, TensorElementType.Float, ["batch", 3]));
        graph.Output.Add(Value(IdsPlusOne, TensorElementType.Int64, ["batch", "n"]));
        graph.Output.Add(Value(Scaled, TensorElementType.Float, ["batch", 3]));

        graph.Initializer.Add(Int64Constant("one", [], 1));
        graph.Initializer.Add(Int64Constant("row_axis", [1], 1));
        graph.Node.Add(Node("Add", "plus_one", [Ids, "one"], IdsPlusOne));
        // ReduceSum keeps the reduced axis by default: [batch, 1], which Mul broadcasts over the 3 features.
        graph.Node.Add(Node("ReduceSum", "row_sum", [Ids, "row_axis"], "row_sum"));
        var cast = Node("Cast", "to_float", ["row_sum"], "row_sum_float");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorElementType.Float });
        graph.Node.Add(cast);
        graph.Node.Add(Node("Mul", "scale", [Features, "row_sum_float"], Scaled));
        return Model(graph);
    }

    /// <summary>
    /// An embedding lookup, the first step of every text encoder: <see cref="Ids"/> INT64 [batch, sequence] gives
    /// <see cref="Vectors"/> FP32 [batch, sequence, <paramref name="width"/>], the row of a table of
    /// <paramref name="vocabulary"/> rows for each id, where row r, column c holds r + c / 10. ONNX Runtime refuses an id
    /// outside the vocabulary at run time (ids from -vocabulary to vocabulary - 1 are valid; negative ones count from the
    /// end), which no check of the request's types and shapes can see beforehand.
    /// </summary>
    public static byte[] Embedding(int vocabulary, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var graph = new GraphProto { Name = "embedding" };
        graph.Input.Add(Value(Ids, TensorElementType.Int64, ["batch", "sequence"]));
        graph.Output.Add(Value(Vectors, TensorElementType.Float, ["batch", "sequence", width]));

        var table = new TensorProto { Name = "table", DataType = (int)TensorProto.Types.DataType.Float };
        table.Dims.Add([vocabulary, width]);
        for (var row = 0; row < vocabulary; row++)
        {
            for (var column = 0; column < width; column++)
            {
                table.FloatData.Add(row + (column / 10f));
            }
        }

        graph.Initializer.Add(table);
        graph.Node.Add(Node("Gather", "lookup", ["table", Ids], Vectors));
        return Model(graph);
    }

    /// <summary>
    /// A stand-in for a BERT-family encoder, for text recipes: inputs <c>input_ids</c>, <c>attention_mask</c> and
    /// <c>token_type_ids</c>, INT64 [batch, sequence]; outputs <c>last_hidden_state</c> FP32 [batch, sequence,
    /// <paramref name="width"/>] (the <see cref="Embedding"/> table's row per id: r + c / 10; the mask and type ids are
    /// read but change nothing) and <c>logits</c> FP32 [batch, <paramref name="width"/>], the mean of the sequence's rows.
    /// </summary>
    public static byte[] TextEncoder(int vocabulary, int width)
    {
        var graph = new GraphProto { Name = "text_encoder" };
        graph.Input.Add(Value("input_ids", TensorElementType.Int64, ["batch", "sequence"]));
        graph.Input.Add(Value("attention_mask", TensorElementType.Int64, ["batch", "sequence"]));
        graph.Input.Add(Value("token_type_ids", TensorElementType.Int64, ["batch", "sequence"]));
        graph.Output.Add(Value("last_hidden_state", TensorElementType.Float, ["batch", "sequence", width]));
        graph.Output.Add(Value("logits", TensorElementType.Float, ["batch", width]));
        var table = new TensorProto { Name = "table", DataType = (int)TensorProto.Types.DataType.Float };
        table.Dims.Add([vocabulary, width]);
        for (var row = 0; row < vocabulary; row++)
        {
            for (var column = 0; column < width; column++)
            {
                table.FloatData.Add(row + (column / 10f));
            }
        }

        graph.Initializer.Add(table);
        graph.Initializer.Add(Int64Constant("zero", [], 0));
        // mask + types times 0, added to the ids: every input is used, none changes the result.
        graph.Node.Add(Node("Add", "mask_and_types", ["attention_mask", "token_type_ids"], "mask_and_types"));
        graph.Node.Add(Node("Mul", "nothing", ["mask_and_types", "zero"], "nothing"));
        graph.Node.Add(Node("Add", "ids", ["input_ids", "nothing"], "ids"));
        graph.Node.Add(Node("Gather", "lookup", ["table", "ids"], "last_hidden_state"));
        var mean = Node("ReduceMean", "mean", ["last_hidden_state"], "logits");
        mean.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1 } });
        mean.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        graph.Node.Add(mean);
        return Model(graph);
    }

    /// <summary>
    /// A stand-in image classifier, for image recipes: input <c>x</c> FP32 [batch, 3, height, width] (height and width
    /// dynamic), output <c>logits</c> FP32 [batch, 3], each channel's mean: a red image scores highest on class 0.
    /// </summary>
    public static byte[] ChannelMeans()
    {
        var graph = new GraphProto { Name = "channel_means" };
        graph.Input.Add(Value("x", TensorElementType.Float, ["batch", 3, "height", "width"]));
        graph.Output.Add(Value("logits", TensorElementType.Float, ["batch", 3]));
        var mean = Node("ReduceMean", "mean", ["x"], "logits");
        mean.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2, 3 } });
        mean.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        graph.Node.Add(mean);
        return Model(graph);
    }

    /// <summary>
    /// A model the upload must refuse, from the adversarial review: tiny on disk, yet at <c>ORT_ENABLE_ALL</c> ONNX Runtime
    /// folds its <c>ConstantOfShape</c> (and the <c>ReduceSum</c> after it) into <paramref name="floats"/> floats while it
    /// loads. Input FP32 [batch, 1]; output FP32 [batch, 1], the input plus that sum (0).
    /// </summary>
    public static byte[] FoldsIntoAHugeConstant(long floats)
    {
        var graph = new GraphProto { Name = "folds_into_a_huge_constant" };
        graph.Input.Add(Value("input", TensorElementType.Float, ["batch", 1]));
        graph.Output.Add(Value("output", TensorElementType.Float, ["batch", 1]));
        graph.Initializer.Add(Int64Constant("shape", [1], floats));
        graph.Node.Add(Node("ConstantOfShape", "huge", ["shape"], "huge"));
        graph.Node.Add(Node("ReduceSum", "sum", ["huge"], "sum"));
        graph.Node.Add(Node("Add", "add", ["input", "sum"], "output"));
        return Model(graph);
    }

    /// <summary>
    /// A model with a weight of <paramref name="weightFloats"/> floats and, besides its tensor output, a sequence output,
    /// which cannot be served: input FP32 [batch, 1]; outputs "output" FP32 [batch, n] (input + weight) and "sequence".
    /// </summary>
    public static byte[] WeightAndSequenceOutput(int weightFloats)
    {
        var graph = new GraphProto { Name = "weight_and_sequence_output" };
        graph.Input.Add(Value("input", TensorElementType.Float, ["batch", 1]));
        graph.Output.Add(Value("output", TensorElementType.Float, ["batch", weightFloats]));
        graph.Output.Add(new ValueInfoProto
        {
            Name = "sequence",
            Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = Value("_", TensorElementType.Float, ["batch", 1]).Type } },
        });
        var weight = new TensorProto { Name = "weight", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[weightFloats * 4]) };
        weight.Dims.Add([1, weightFloats]);
        graph.Initializer.Add(weight);
        graph.Node.Add(Node("Add", "add", ["input", "weight"], "output"));
        graph.Node.Add(Node("SequenceConstruct", "sequence", ["input"], "sequence"));
        return Model(graph);
    }

    /// <summary>Input FP32 [batch, 1] plus a weight whose data the file says lies in <paramref name="location"/>, a file next to it.</summary>
    public static byte[] WeightInExternalData(string location)
    {
        var graph = new GraphProto { Name = "external_data" };
        graph.Input.Add(Value("input", TensorElementType.Float, ["batch", 1]));
        graph.Output.Add(Value("output", TensorElementType.Float, ["batch", 1]));
        var weight = new TensorProto { Name = "weight", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        weight.Dims.Add(1);
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        graph.Initializer.Add(weight);
        graph.Node.Add(Node("Add", "add", ["input", "weight"], "output"));
        return Model(graph);
    }

    private static byte[] Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = IrVersion, ProducerName = "AIaaS.Queue test graphs", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OpsetVersion });
        return model.ToByteArray();
    }

    private static NodeProto Node(string opType, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto Value(string name, TensorElementType elementType, IReadOnlyList<GraphDimension> shape)
    {
        if (OnnxTypes.Datatype(elementType) is null)
        {
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Only the Open Inference Protocol's types are written.");
        }

        var dims = new TensorShapeProto();
        foreach (var dimension in shape)
        {
            dims.Dim.Add(dimension.Name is { } symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = dimension.Size ?? 0 });
        }

        return new ValueInfoProto
        {
            Name = name,
            // ORT's element type numbers are ONNX's TensorProto.DataType numbers.
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = dims } },
        };
    }

    private static TensorProto Int64Constant(string name, long[] dims, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(dims);
        tensor.Int64Data.Add(values);
        return tensor;
    }
}
