using AIaaS.Queue.Onnx.Protos;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx;

/// <summary>Changes to real models' graphs, for tests that need a model nobody publishes (a classifier on a real encoder).</summary>
public static class OnnxGraphEdits
{
    /// <summary>
    /// Appends a classification head to a BERT-family encoder (opset 13 to 17): the mean of <paramref name="hiddenOutput"/>
    /// [batch, sequence, dim] over the tokens <paramref name="maskInput"/> keeps, times <paramref name="weight"/> [dim,
    /// classes], as the model's only output <c>logits</c> FP32 [batch, classes]. The mean is mask-aware, so a padded batch
    /// gives each text the logits it has alone.
    /// </summary>
    public static byte[] WithMeanPooledClassifier(byte[] encoder, string hiddenOutput, string maskInput, float[,] weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var model = ModelProto.Parser.ParseFrom(encoder);
        var opset = model.OpsetImport.FirstOrDefault(o => string.IsNullOrEmpty(o.Domain))?.Version ?? 0;
        if (opset is < 13 or > 17)
        {
            throw new ArgumentException($"The encoder's opset is {opset}; this edit writes ReduceSum and Unsqueeze as opsets 13 to 17 define them.", nameof(encoder));
        }

        var graph = model.Graph;
        var (dim, classes) = (weight.GetLength(0), weight.GetLength(1));
        var w = new TensorProto { Name = "head_weight", DataType = (int)TensorProto.Types.DataType.Float };
        w.Dims.Add([dim, classes]);
        foreach (var value in weight)
        {
            w.FloatData.Add(value);
        }

        graph.Initializer.Add(w);
        graph.Initializer.Add(Int64s("head_axis_1", 1));
        graph.Initializer.Add(Int64s("head_axis_2", 2));
        var cast = Node("Cast", [maskInput], "head_mask_float");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorElementType.Float });
        graph.Node.Add(cast);
        graph.Node.Add(Node("Unsqueeze", ["head_mask_float", "head_axis_2"], "head_mask"));
        graph.Node.Add(Node("Mul", [hiddenOutput, "head_mask"], "head_masked"));
        graph.Node.Add(Sum("head_masked", "head_sum"));
        graph.Node.Add(Sum("head_mask", "head_count"));
        graph.Node.Add(Node("Div", ["head_sum", "head_count"], "head_mean"));
        graph.Node.Add(Node("MatMul", ["head_mean", "head_weight"], "logits"));

        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = classes });
        graph.Output.Clear();
        graph.Output.Add(new ValueInfoProto
        {
            Name = "logits",
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float, Shape = shape } },
        });
        return model.ToByteArray();
    }

    private static NodeProto Sum(string input, string output)
    {
        var node = Node("ReduceSum", [input, "head_axis_1"], output);
        node.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        return node;
    }

    private static NodeProto Node(string opType, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.Add(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto Int64s(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        return tensor;
    }
}
