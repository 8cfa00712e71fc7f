using System.Text.Json;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Builds request tensors in the Open Inference Protocol's form, and reads output tensors' values.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Named after the protocol's datatypes.")]
public static class Tensors
{
    /// <summary>An FP32 tensor. <paramref name="shape"/> is the whole shape, the batch dimension first.</summary>
    public static InferTensor Fp32(string name, long[] shape, float[] data) => Create(name, TensorDatatypes.Fp32, shape, data);

    /// <summary>An FP64 tensor.</summary>
    public static InferTensor Fp64(string name, long[] shape, double[] data) => Create(name, TensorDatatypes.Fp64, shape, data);

    /// <summary>An INT64 tensor (token ids, attention masks of BERT-family models).</summary>
    public static InferTensor Int64(string name, long[] shape, long[] data) => Create(name, TensorDatatypes.Int64, shape, data);

    /// <summary>An INT32 tensor.</summary>
    public static InferTensor Int32(string name, long[] shape, int[] data) => Create(name, TensorDatatypes.Int32, shape, data);

    /// <summary>A UINT8 tensor (image pixels); written as numbers, not base64.</summary>
    public static InferTensor UInt8(string name, long[] shape, byte[] data) =>
        Create(name, TensorDatatypes.UInt8, shape, Array.ConvertAll(data, b => (int)b));

    /// <summary>A BOOL tensor.</summary>
    public static InferTensor Bool(string name, long[] shape, bool[] data) => Create(name, TensorDatatypes.Bool, shape, data);

    /// <summary>A BYTES tensor of strings.</summary>
    public static InferTensor Bytes(string name, long[] shape, string[] data) => Create(name, TensorDatatypes.Bytes, shape, data);

    /// <summary>A tensor of any datatype from its values; <paramref name="data"/> serializes to a JSON array.</summary>
    public static InferTensor Create<T>(string name, string datatype, long[] shape, T[] data) => new()
    {
        Name = name,
        Datatype = datatype,
        Shape = shape,
        Data = JsonSerializer.SerializeToElement(data, WireJson.Options),
    };

    /// <summary>The tensor's values, flat and row-major, as <typeparamref name="T"/> (float for FP32, long for INT64, bool for
    /// BOOL, string for BYTES...). NaN and infinities read back from their named forms.</summary>
    public static T[] ToArray<T>(this InferTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (typeof(T) == typeof(byte))
        {
            // System.Text.Json reads byte[] from base64; the protocol sends UINT8 as numbers.
            return (T[])(object)Array.ConvertAll(tensor.Data.Deserialize<int[]>(WireJson.Options) ?? [], i => checked((byte)i));
        }

        return tensor.Data.Deserialize<T[]>(WireJson.Options) ?? [];
    }

    /// <summary>The tensor's values as floats (for FP32, FP16, BF16 outputs).</summary>
    public static float[] ToFloats(this InferTensor tensor) => tensor.ToArray<float>();

    /// <summary>The output named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No output has that name.</exception>
    public static InferTensor Named(this IReadOnlyList<InferTensor> outputs, string name) =>
        outputs?.FirstOrDefault(o => o.Name == name) ?? throw new KeyNotFoundException($"No output is named '{name}'.");

    /// <inheritdoc cref="Named(IReadOnlyList{InferTensor}, string)"/>
    public static InferTensor Named(this IReadOnlyDictionary<string, InferTensor> outputs, string name) =>
        outputs?.GetValueOrDefault(name) ?? throw new KeyNotFoundException($"No output is named '{name}'.");
}
