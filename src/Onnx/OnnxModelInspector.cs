using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx;

/// <summary>Reads a model's declared inputs and outputs by loading it with ONNX Runtime on the CPU.</summary>
public static class OnnxModelInspector
{
    /// <summary>
    /// Loads <paramref name="model"/> and returns its signature: element types as numpy-style names
    /// ("float32", "int64", ...), shapes with -1 for dynamic or symbolic dimensions.
    /// </summary>
    /// <exception cref="InvalidModelException">ONNX Runtime cannot load the bytes as a model.</exception>
    public static ModelSignature Inspect(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Load(options => new InferenceSession(model, options));
    }

    /// <inheritdoc cref="Inspect(byte[])"/>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    public static ModelSignature Inspect(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);

        // Checked here because ONNX Runtime would report a missing file as a load failure, not as a missing file.
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No model file at '{path}'.", path);
        }

        return Load(options => new InferenceSession(path, options));
    }

    private static ModelSignature Load(Func<SessionOptions, InferenceSession> open)
    {
        using var options = new SessionOptions
        {
            // Only metadata is read, so graph optimisation would be wasted work; loading still validates the graph.
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        InferenceSession session;
        try
        {
            session = open(options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidModelException($"Not a valid ONNX model: {ex.Message}", ex);
        }

        using (session)
        {
            return new ModelSignature(
                Describe(session.InputNames, session.InputMetadata),
                Describe(session.OutputNames, session.OutputMetadata));
        }
    }

    private static TensorSpec[] Describe(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        names.Select(name => Describe(name, metadata[name])).ToArray();

    private static TensorSpec Describe(string name, NodeMetadata node)
    {
        if (!node.IsTensor)
        {
            // Sequences, maps and optionals have no single element type or shape; name the kind instead.
            return new TensorSpec { Name = name, ElementType = KindName(node.OnnxValueType), Shape = [] };
        }

        return new TensorSpec
        {
            Name = name,
            ElementType = OnnxTypes.NumpyName(node.ElementDataType),
            Datatype = OnnxTypes.Datatype(node.ElementDataType),
            // ONNX Runtime already reports symbolic and unknown dimensions as -1.
            Shape = node.Dimensions.Select(d => d < 0 ? -1 : d).ToArray(),
            DimensionNames = node.SymbolicDimensions.Select((n, d) => node.Dimensions[d] < 0 && !string.IsNullOrEmpty(n) ? n : null).ToArray(),
        };
    }

    private static string KindName(OnnxValueType kind) => kind switch
    {
        OnnxValueType.ONNX_TYPE_SEQUENCE => "sequence",
        OnnxValueType.ONNX_TYPE_MAP => "map",
        OnnxValueType.ONNX_TYPE_OPTIONAL => "optional",
        OnnxValueType.ONNX_TYPE_SPARSETENSOR => "sparse_tensor",
        OnnxValueType.ONNX_TYPE_OPAQUE => "opaque",
        _ => "unknown",
    };
}
