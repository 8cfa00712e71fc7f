using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// A model input as served: its element type and declared dimensions (-1 dynamic, with the model's names for them), and
/// from the registration which axes are padded to the longest request of a batch, with what, and how large each may be.
/// </summary>
internal sealed record ModelInput(string Name, TensorElementType Type, string Datatype, long[] Dims, string?[] DimNames,
    bool[] Padded, double PadValue, long[] MaxShape)
{
    public bool IsPadded => Array.IndexOf(Padded, true) >= 0;

    public string ShapeText => ShapeMath.Text(Dims);

    /// <summary>The shape of one record: the dimensions after the batch dimension, or all of them without one.</summary>
    public long[] RecordDims { get; init; } = [];

    /// <summary>Float values in one record of an FP32 input of fixed record shape (the form bulk files and the
    /// <c>features</c> shorthand carry); -1 for any other input.</summary>
    /// <remarks>Also -1 for a record too large to count in an int (such a model is refused at registration, but a worker
    /// must not throw on one that another path stored).</remarks>
    public int RecordLength => Type == TensorElementType.Float && RecordDims.All(d => d >= 0) && SmallCount(RecordDims) is { } n ? n : -1;

    private static int? SmallCount(long[] dims)
    {
        long count = 1;
        foreach (var d in dims)
        {
            count *= d;
            if (count > int.MaxValue)
            {
                return null;
            }
        }

        return (int)count;
    }

    public static ModelInput From(string model, string name, NodeMetadata meta, InputBatching? batching, BatchMode mode)
    {
        if (!meta.IsTensor || OnnxTypes.Datatype(meta.ElementDataType) is not { } datatype)
        {
            throw new ModelNotSupportedException(
                $"Model '{model}' input '{name}' is {(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString())}; " +
                "only tensors of the Open Inference Protocol's datatypes can be served.");
        }

        var dims = meta.Dimensions.Select(d => d < 0 ? -1L : d).ToArray();
        var names = dims.Select((d, i) => d < 0 && i < meta.SymbolicDimensions.Length && meta.SymbolicDimensions[i] is { Length: > 0 } n ? n : null).ToArray();
        var padded = new bool[dims.Length];
        foreach (var axis in batching?.PadAxes ?? [])
        {
            if (axis < 0 || axis >= dims.Length || dims[axis] >= 0 || (axis == 0 && mode == BatchMode.Dynamic))
            {
                throw new ModelNotSupportedException(
                    $"Model '{model}' input '{name}' (shape {ShapeMath.Text(dims)}) cannot be padded on axis {axis}: only dynamic axes after the batch axis can.");
            }

            padded[axis] = true;
        }

        var maxShape = Enumerable.Repeat(-1L, dims.Length).ToArray();
        var limits = batching?.MaxShape ?? [];
        for (var axis = 0; axis < Math.Min(limits.Count, dims.Length); axis++)
        {
            maxShape[axis] = limits[axis] > 0 ? limits[axis] : -1;
        }

        return new ModelInput(name, meta.ElementDataType, datatype, dims, names, padded, batching?.PadValue ?? 0, maxShape)
        {
            RecordDims = mode == BatchMode.None ? dims : dims[1..],
        };
    }
}

/// <summary>A model output: its name and, per axis, the input axis whose length it follows when that input is padded (so
/// that each request's part is cut back to its own length), found by the model's names for dynamic dimensions; and its
/// element type and declared dimensions (-1 dynamic), which a recipe checks it can read.</summary>
internal sealed record ModelOutput(string Name, (int Input, int Axis)?[] FollowsPaddedAxis)
{
    public TensorElementType Type { get; init; }

    public long[] Dims { get; init; } = [];
}

/// <summary>A model output (or a recipe's answer) for one request, typed: converted to the protocol's JSON only at the edge.</summary>
internal readonly record struct NamedTensor(string Name, TensorData Tensor)
{
    public InferTensor ToInferTensor() => Tensor.ToInferTensor(Name);
}
