using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx;

/// <summary>Reads a model's declared inputs and outputs by loading it with ONNX Runtime on the CPU.</summary>
public static class OnnxModelInspector
{
    /// <summary>Most bytes of new tensors a model may make ONNX Runtime create while it loads (folded constants, sparse
    /// tensors made dense): 256 MiB.</summary>
    public const long DefaultMaxFoldedBytes = 256L << 20;

    /// <summary>
    /// Loads <paramref name="model"/> as the workers do (<see cref="ServingOptimization"/>) and returns its signature: element
    /// types as numpy-style names ("float32", "int64", ...), shapes with -1 for dynamic or symbolic dimensions. Before that,
    /// <see cref="OnnxLoadCheck"/> refuses a model that would allocate more than <paramref name="maxFoldedBytes"/> while loading,
    /// or that keeps tensors in external data.
    /// </summary>
    /// <exception cref="InvalidModelException">The model is refused, or ONNX Runtime cannot load the bytes as a model.</exception>
    public static ModelSignature Inspect(byte[] model, long maxFoldedBytes = DefaultMaxFoldedBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (OnnxLoadCheck.Problem(model, maxFoldedBytes) is { } problem)
        {
            throw new InvalidModelException(problem);
        }

        return Load(options => new InferenceSession(model, options), hide: null);
    }

    /// <inheritdoc cref="Inspect(byte[], long)"/>
    /// <remarks>The file's path appears in no exception message (ONNX Runtime names it in its own): it is the server's.</remarks>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    public static ModelSignature Inspect(string path, long maxFoldedBytes = DefaultMaxFoldedBytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);

        // Checked here because ONNX Runtime would report a missing file as a load failure, not as a missing file.
        if (!File.Exists(path))
        {
            throw new FileNotFoundException("No model file.", path);
        }

        if (OnnxLoadCheck.Problem(path, maxFoldedBytes) is { } problem)
        {
            throw new InvalidModelException(problem);
        }

        return Load(options => new InferenceSession(path, options), hide: path);
    }

    /// <summary>The graph optimization the workers load models with, and so the one the upload check loads with: a model
    /// that loads here loads there, and what folding would allocate is seen here first.</summary>
    public const GraphOptimizationLevel ServingOptimization = GraphOptimizationLevel.ORT_ENABLE_ALL;

    private static ModelSignature Load(Func<SessionOptions, InferenceSession> open, string? hide)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = ServingOptimization,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        InferenceSession session;
        try
        {
            session = open(options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidModelException($"Not a valid ONNX model: {WithoutPath(ex.Message, hide)}", ex);
        }

        using (session)
        {
            return new ModelSignature(
                Describe(session.InputNames, session.InputMetadata),
                Describe(session.OutputNames, session.OutputMetadata));
        }
    }

    /// <summary>ONNX Runtime's message with the server's paths (the file's, and its folder's) replaced.</summary>
    private static string WithoutPath(string message, string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return message;
        }

        message = message.Replace(path, "the model file", StringComparison.Ordinal);
        var folder = Path.GetDirectoryName(path);
        return string.IsNullOrEmpty(folder) ? message : message.Replace(folder, "the upload folder", StringComparison.Ordinal);
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
