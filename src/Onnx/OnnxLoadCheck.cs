using System.Buffers.Binary;
using AIaaS.Queue.Onnx.Protos;
using Google.Protobuf;

namespace AIaaS.Queue.Onnx;

/// <summary>
/// What loading a model would make ONNX Runtime allocate beyond the file itself, read from the file before anything loads
/// it. At <c>ORT_ENABLE_ALL</c> ONNX Runtime folds every node whose inputs are all constant, so a 254-byte model
/// (<c>ConstantOfShape</c> of 2.5e8 floats) becomes a 1 GB tensor while it loads; a check that loads the model to find out
/// would itself take that memory. So the constant part of the graph is sized here, from literal shapes, and a model whose
/// folded constants exceed the limit, or cannot be sized, is refused. Tensors kept in external data are refused too: they
/// would be read from paths next to wherever the file happens to lie.
/// </summary>
public static class OnnxLoadCheck
{
    /// <summary>Ops that ONNX Runtime folds into outputs larger than their inputs; they need literal shapes to be sized.</summary>
    private static readonly HashSet<string> Growing = new(StringComparer.Ordinal)
    {
        "ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot", "MatMul", "Gemm", "Einsum", "EyeLike",
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Conv", "ConvTranspose",
    };

    /// <summary>Element-wise ops whose output is their inputs broadcast together.</summary>
    private static readonly HashSet<string> Broadcasting = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Greater", "GreaterOrEqual",
        "Less", "LessOrEqual", "And", "Or", "Xor", "BitShift", "PRelu",
    };

    /// <summary>Why the model at <paramref name="path"/> may not be loaded, or null.</summary>
    public static string? Problem(string path, long maxFoldedBytes) => Check(path, maxFoldedBytes).Problem;

    /// <inheritdoc cref="Problem(string, long)"/>
    public static string? Problem(byte[] model, long maxFoldedBytes)
    {
        try
        {
            return Problem(ModelProto.Parser.ParseFrom(model), maxFoldedBytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    internal static string? Problem(ModelProto model, long maxFoldedBytes) => Check(model, maxFoldedBytes).Problem;

    /// <summary>Why the model at <paramref name="path"/> may not be loaded (or null), and the bytes of new tensors its load
    /// would fold: with the file's own size, what a worker holds while the model stays loaded.</summary>
    public static (string? Problem, long FoldedBytes) Check(string path, long maxFoldedBytes)
    {
        try
        {
            using var file = File.OpenRead(path);
            return Check(ModelProto.Parser.ParseFrom(file), maxFoldedBytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return (null, 0); // Not readable as a model here: ONNX Runtime's own load reports it.
        }
    }

    private static (string? Problem, long FoldedBytes) Check(ModelProto model, long maxFoldedBytes)
    {
        if (model.Graph is null)
        {
            return (null, 0);
        }

        if (ExternalTensor(model) is { } external)
        {
            return ($"The model keeps tensor '{external}' in external data; only models with every tensor inside the one file are accepted.", 0);
        }

        var folded = FoldedBytes(model.Graph, new Dictionary<string, Constant>(StringComparer.Ordinal), out var unsized);
        if (unsized is not null)
        {
            return ($"The model computes a constant with {unsized} whose size cannot be read from the file; ONNX Runtime would fold it "
                + "when loading, so it is refused. Fold the model's constants before uploading it.", 0);
        }

        return folded > maxFoldedBytes
            ? ($"Loading the model would fold its constants into {folded} bytes of new tensors; at most {maxFoldedBytes} are allowed.", folded)
            : (null, folded);
    }

    private static string? ExternalTensor(ModelProto model) =>
        ExternalTensor(model.Graph) ?? model.Functions.SelectMany(f => f.Node).Select(ExternalTensor).FirstOrDefault(n => n is not null);

    private static string? ExternalTensor(GraphProto? graph)
    {
        if (graph is null)
        {
            return null;
        }

        var tensors = graph.Initializer.Concat(graph.SparseInitializer.SelectMany(Parts));
        return tensors.FirstOrDefault(IsExternal)?.Name ?? graph.Node.Select(ExternalTensor).FirstOrDefault(n => n is not null);
    }

    private static string? ExternalTensor(NodeProto node)
    {
        foreach (var attribute in node.Attribute)
        {
            var tensors = new[] { attribute.T }.Concat(attribute.Tensors).Concat(new[] { attribute.SparseTensor }.Concat(attribute.SparseTensors).SelectMany(Parts));
            if (tensors.FirstOrDefault(t => t is not null && IsExternal(t)) is { } external)
            {
                return string.IsNullOrEmpty(external.Name) ? node.Name : external.Name;
            }

            if (new[] { attribute.G }.Concat(attribute.Graphs).Select(ExternalTensor).FirstOrDefault(n => n is not null) is { } inGraph)
            {
                return inGraph;
            }
        }

        return null;
    }

    private static IEnumerable<TensorProto> Parts(SparseTensorProto? sparse) =>
        sparse is null ? [] : new[] { sparse.Values, sparse.Indices }.Where(t => t is not null);

    private static bool IsExternal(TensorProto tensor) =>
        tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0;

    /// <summary>Bytes of the tensors that constant folding would create, following the graph in order (ONNX graphs are
    /// topologically sorted). Sets <paramref name="unsized"/> to the op whose folded size is unknown.</summary>
    private static long FoldedBytes(GraphProto graph, Dictionary<string, Constant> outer, out string? unsized)
    {
        unsized = null;
        var constants = new Dictionary<string, Constant>(outer, StringComparer.Ordinal);
        foreach (var initializer in graph.Initializer)
        {
            constants[initializer.Name] = Constant.Of(initializer);
        }

        // A graph input that shares an initializer's name may be overridden at run time, so it is not folded.
        foreach (var input in graph.Input)
        {
            constants.Remove(input.Name);
        }

        // Sparse tensors are made dense when the model loads: a few bytes in the file can stand for gigabytes.
        var folded = 0L;
        foreach (var sparse in graph.SparseInitializer)
        {
            var dense = new Constant([.. sparse.Dims], ElementBytes(sparse.Values?.DataType ?? 1), null);
            constants[sparse.Values?.Name ?? ""] = dense;
            folded = Saturating(folded, dense.Bytes);
        }

        foreach (var node in graph.Node)
        {
            if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain))
            {
                if (node.Output.Count == 1 && node.Attribute.Count == 1 && Constant.Of(node.Attribute[0]) is { } value)
                {
                    constants[node.Output[0]] = value;
                    folded = Saturating(folded, node.Attribute[0].Name == "sparse_value" ? value.Bytes : 0);
                }

                continue;
            }

            // ONNX Runtime folds inside If and Loop bodies too, where the outer graph's constants are visible.
            foreach (var body in node.Attribute.SelectMany(a => new[] { a.G }.Concat(a.Graphs)).Where(g => g is not null))
            {
                folded = Saturating(folded, FoldedBytes(body, constants, out unsized));
                if (unsized is not null)
                {
                    return 0;
                }
            }

            var inputs = node.Input.Where(i => !string.IsNullOrEmpty(i)).ToArray();
            if (inputs.Length == 0 || !inputs.All(constants.ContainsKey) || node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0))
            {
                continue;
            }

            var operands = inputs.Select(i => constants[i]).ToArray();
            var output = FoldedOutput(node, operands);
            if (output is null)
            {
                unsized = $"{node.OpType} (node '{node.Name}')";
                return 0;
            }

            foreach (var name in node.Output)
            {
                constants[name] = output;
                folded = Saturating(folded, output.Bytes);
            }
        }

        return folded;
    }

    /// <summary>The folded output's shape and size, or null when <paramref name="node"/> may grow and its size is not literal.</summary>
    private static Constant? FoldedOutput(NodeProto node, Constant[] operands)
    {
        long[]? Literal(int i) => i < operands.Length ? operands[i].Values : null;
        switch (node.OpType)
        {
            case "ConstantOfShape":
                var type = node.Attribute.FirstOrDefault(a => a.Name == "value")?.T?.DataType ?? (int)TensorProto.Types.DataType.Float;
                return Literal(0) is { } shape ? new Constant(shape, ElementBytes(type), null) : null;
            case "Expand":
                return Literal(1) is { } target && operands[0].Shape is { } source ? operands[0] with { Shape = Broadcast(source, target), Values = null } : null;
            case "Tile":
                return Literal(1) is { } repeats && operands[0].Shape is { } tiled && repeats.Length == tiled.Length
                    ? operands[0] with { Shape = tiled.Zip(repeats, (d, r) => d * Math.Max(0, r)).ToArray(), Values = null }
                    : null;
        }

        if (Broadcasting.Contains(node.OpType))
        {
            return operands.All(o => o.Shape is not null)
                ? new Constant(operands.Select(o => o.Shape!).Aggregate(Broadcast), operands.Max(o => o.ElementSize), null)
                : null;
        }

        if (Growing.Contains(node.OpType))
        {
            return null;
        }

        // Any other op (Cast, Reshape, Concat, Gather, Slice, Transpose, reductions...) makes no more than its inputs hold;
        // its shape is not followed, so an op after it that needs one is refused.
        return new Constant(null, 1, null) { KnownBytes = operands.Aggregate(0L, (sum, o) => Saturating(sum, o.Bytes)) };
    }

    private static long[] Broadcast(long[] a, long[] b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var shape = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            var x = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            var y = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            shape[i] = Math.Max(x, y);
        }

        return shape;
    }

    private static long Saturating(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static int ElementBytes(int dataType) => (TensorProto.Types.DataType)dataType switch
    {
        TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Bool => 1,
        TensorProto.Types.DataType.Uint16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Float16
            or TensorProto.Types.DataType.Bfloat16 => 2,
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Complex128 => 16,
        _ => 8,
    };

    /// <summary>A constant tensor: its shape when known, and its int64 values when it is a small literal (a shape or repeats).</summary>
    private sealed record Constant(long[]? Shape, int ElementSize, long[]? Values)
    {
        public long? KnownBytes { get; init; }

        public long Bytes
        {
            get
            {
                if (KnownBytes is { } known)
                {
                    return known;
                }

                var bytes = (long)ElementSize;
                foreach (var d in Shape ?? [])
                {
                    if (d > 0 && bytes > long.MaxValue / d)
                    {
                        return long.MaxValue;
                    }

                    bytes *= Math.Max(0, d);
                }

                return bytes;
            }
        }

        public static Constant Of(TensorProto tensor)
        {
            long[]? values = null;
            if (tensor.DataType == (int)TensorProto.Types.DataType.Int64 && tensor.Dims.Count <= 1)
            {
                values = tensor.Int64Data.Count > 0 ? [.. tensor.Int64Data]
                    : tensor.RawData.Length is > 0 and <= 8 * 64 && tensor.RawData.Length % 8 == 0
                        ? Enumerable.Range(0, tensor.RawData.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(tensor.RawData.Span[(i * 8)..])).ToArray()
                        : null;
            }

            return new Constant([.. tensor.Dims], ElementBytes(tensor.DataType), values);
        }

        /// <summary>A <c>Constant</c> node's value, whichever attribute holds it; null for an attribute that is not one.</summary>
        public static Constant? Of(AttributeProto value) => value.Name switch
        {
            "value" when value.T is not null => Of(value.T),
            "value_int" => new Constant([], 8, [value.I]),
            "value_ints" => new Constant([value.Ints.Count], 8, [.. value.Ints]),
            "value_float" => new Constant([], 4, null),
            "value_floats" => new Constant([value.Floats.Count], 4, null),
            "value_string" => new Constant([], 8, null) { KnownBytes = value.S.Length },
            "value_strings" => new Constant([value.Strings.Count], 8, null) { KnownBytes = value.Strings.Sum(s => (long)s.Length) },
            "sparse_value" when value.SparseTensor is not null => new Constant([.. value.SparseTensor.Dims], ElementBytes(value.SparseTensor.Values?.DataType ?? 1), null),
            _ => null,
        };
    }
}
