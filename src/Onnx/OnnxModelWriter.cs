using System.Buffers.Binary;
using System.Runtime.InteropServices;
using AIaaS.Queue.Onnx.Protos;
using Google.Protobuf;

namespace AIaaS.Queue.Onnx;

/// <summary>Serialises an <see cref="MlpModel"/> as an ONNX model (IR version 8, opset 17).</summary>
public static class OnnxModelWriter
{
    private const long IrVersion = 8;
    private const long OpsetVersion = 17;
    private const string BatchDimension = "batch";

    /// <summary>
    /// Writes the model: input float32 [batch, InputSize], output float32 [batch, OutputSize], with
    /// "batch" a symbolic dimension. Each layer is a Gemm followed by its activation node; weights are initializers.
    /// <paramref name="metadata"/>, if given, is stored as the model's metadata_props.
    /// </summary>
    public static byte[] Write(MlpModel model, IReadOnlyDictionary<string, string>? metadata = null) =>
        BuildModel(model, metadata).ToByteArray();

    /// <summary>Writes the model to <paramref name="destination"/>, which is left open.</summary>
    /// <remarks>The model is the same as <see cref="Write(MlpModel, IReadOnlyDictionary{string, string}?)"/> returns.</remarks>
    public static void Write(MlpModel model, Stream destination, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        BuildModel(model, metadata).WriteTo(destination);
    }

    private static ModelProto BuildModel(MlpModel model, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(model);

        var graph = new GraphProto { Name = "mlp" };
        graph.Input.Add(FloatMatrix(model.InputName, model.InputSize));
        graph.Output.Add(FloatMatrix(model.OutputName, model.OutputSize));

        var current = model.InputName;
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var prefix = $"dense{i}";
            var weight = Initializer($"{prefix}.weight", layer.Weights, layer.Inputs, layer.Outputs);
            var bias = Initializer($"{prefix}.bias", layer.Bias, layer.Outputs);
            graph.Initializer.Add(weight);
            graph.Initializer.Add(bias);

            // Gemm's C input broadcasts the [out] bias over every row, so one node computes x W + b.
            current = AddNode(graph, "Gemm", prefix, current, weight.Name, bias.Name).Output[0];
            if (ActivationOp(layer.Activation) is { } op)
            {
                current = AddNode(graph, op, prefix, current).Output[0];
            }
        }

        switch (model.OutputActivation)
        {
            case OutputActivation.Sigmoid:
                AddNode(graph, "Sigmoid", "head", current);
                break;
            case OutputActivation.Softmax:
                AddNode(graph, "Softmax", "head", current).Attribute.Add(new AttributeProto
                {
                    Name = "axis",
                    Type = AttributeProto.Types.AttributeType.Int,
                    I = -1,
                });
                break;
            default:
                break;
        }

        BindGraphOutput(graph, model);

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "AIaaS.Queue",
            ProducerVersion = typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString() ?? string.Empty,
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OpsetVersion });
        if (metadata is not null)
        {
            // Sorted so the same model and metadata always produce the same bytes.
            foreach (var (key, value) in metadata.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value ?? string.Empty });
            }
        }

        return proto;
    }

    private static void BindGraphOutput(GraphProto graph, MlpModel model)
    {
        // Every value name but the graph's own input and output is generated; a user name equal to one would
        // make the graph refer to itself.
        var generatedNames = graph.Initializer.Select(tensor => tensor.Name)
            .Concat(graph.Node.SkipLast(1).SelectMany(node => node.Output))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var name in new[] { model.InputName, model.OutputName })
        {
            if (generatedNames.Contains(name))
            {
                throw new ArgumentException(
                    $"The name '{name}' is used inside the generated graph; choose another input or output name.",
                    nameof(model));
            }
        }

        graph.Node[^1].Output[0] = model.OutputName;
    }

    private static NodeProto AddNode(GraphProto graph, string opType, string scope, params string[] inputs)
    {
        var node = new NodeProto { OpType = opType, Name = $"{scope}/{opType}" };
        node.Input.Add(inputs);
        node.Output.Add($"{scope}/{opType}_out");
        graph.Node.Add(node);
        return node;
    }

    private static string? ActivationOp(Activation activation) => activation switch
    {
        Activation.Relu => "Relu",
        Activation.Sigmoid => "Sigmoid",
        Activation.Tanh => "Tanh",
        _ => null,
    };

    private static ValueInfoProto FloatMatrix(string name, int columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor
                {
                    ElemType = (int)TensorProto.Types.DataType.Float,
                    Shape = shape,
                },
            },
        };
    }

    private static TensorProto Initializer(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = LittleEndianBytes(values),
        };
        tensor.Dims.Add(dims);
        return tensor;
    }

    private static ByteString LittleEndianBytes(float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            return ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        }

        // ONNX requires little-endian raw_data whatever the host's byte order.
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return ByteString.CopyFrom(bytes);
    }
}
