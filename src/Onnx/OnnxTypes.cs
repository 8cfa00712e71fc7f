using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx;

/// <summary>One table from ONNX Runtime's element types to the Open Inference Protocol's datatypes and numpy names.</summary>
public static class OnnxTypes
{
    private static readonly (TensorElementType Type, string Datatype)[] Served =
    [
        (TensorElementType.Bool, TensorDatatypes.Bool),
        (TensorElementType.UInt8, TensorDatatypes.UInt8),
        (TensorElementType.UInt16, TensorDatatypes.UInt16),
        (TensorElementType.UInt32, TensorDatatypes.UInt32),
        (TensorElementType.UInt64, TensorDatatypes.UInt64),
        (TensorElementType.Int8, TensorDatatypes.Int8),
        (TensorElementType.Int16, TensorDatatypes.Int16),
        (TensorElementType.Int32, TensorDatatypes.Int32),
        (TensorElementType.Int64, TensorDatatypes.Int64),
        (TensorElementType.Float16, TensorDatatypes.Fp16),
        (TensorElementType.Float, TensorDatatypes.Fp32),
        (TensorElementType.Double, TensorDatatypes.Fp64),
        (TensorElementType.BFloat16, TensorDatatypes.Bf16),
        (TensorElementType.String, TensorDatatypes.Bytes),
    ];

    /// <summary>The OIP datatype of an element type, or null for types the protocol has no name for (complex, float8, int4).</summary>
    public static string? Datatype(TensorElementType type) =>
        Array.Find(Served, s => s.Type == type).Datatype;

    /// <summary>The element type an OIP datatype names, or null for a name the protocol does not have.</summary>
    public static TensorElementType? ElementType(string? datatype)
    {
        foreach (var (type, name) in Served)
        {
            if (string.Equals(name, datatype, StringComparison.Ordinal))
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>numpy-style name ("float32", "int64", "string").</summary>
    public static string NumpyName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Int8 => "int8",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        TensorElementType.Complex64 => "complex64",
        TensorElementType.Complex128 => "complex128",
        // Newer ONNX types (float8 variants, int4, ...) keep ORT's own name rather than failing inspection.
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// How a model's first dimension is served. Dynamic: every input's first dimension is dynamic, so requests merge along
    /// it. FixedOne: every input's first dimension is fixed at 1 (a batch of one). None: anything else (rank-0 inputs,
    /// other fixed sizes, or inputs that disagree), so each request is the whole tensor.
    /// </summary>
    public static BatchMode BatchModeOf(IReadOnlyList<TensorSpec> inputs)
    {
        if (inputs.Count == 0 || inputs.Any(i => i.Shape.Count == 0))
        {
            return BatchMode.None;
        }

        if (inputs.All(i => i.Shape[0] < 0))
        {
            return BatchMode.Dynamic;
        }

        return inputs.All(i => i.Shape[0] == 1) ? BatchMode.FixedOne : BatchMode.None;
    }
}
