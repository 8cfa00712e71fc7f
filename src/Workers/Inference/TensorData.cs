using System.Buffers;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// A dense tensor held in the array type of its element type (float[], long[], bool[], string[], ONNX Runtime's Float16[]
/// ...), row-major. One type for request inputs, padded batches and sliced outputs, so that nothing is converted to float
/// on the way through.
/// </summary>
internal sealed class TensorData
{
    public TensorData(TensorElementType type, long[] shape, Array values)
    {
        Type = type;
        Shape = shape;
        Values = values;
    }

    public TensorElementType Type { get; }
    public long[] Shape { get; }
    public Array Values { get; }
    public int Length => Values.Length;

    /// <summary>A tensor of <paramref name="shape"/> filled with <paramref name="padValue"/> (false for BOOL, "" for BYTES
    /// whatever the value).</summary>
    public static TensorData Filled(TensorElementType type, long[] shape, double padValue)
    {
        var length = checked((int)ShapeMath.Count(shape));
        Array values = type switch
        {
            TensorElementType.Float => Fill(new float[length], (float)padValue),
            TensorElementType.Double => Fill(new double[length], padValue),
            TensorElementType.Float16 => Fill(new Float16[length], (Float16)(float)padValue),
            TensorElementType.BFloat16 => Fill(new BFloat16[length], (BFloat16)(float)padValue),
            TensorElementType.Int64 => Fill(new long[length], (long)padValue),
            TensorElementType.Int32 => Fill(new int[length], (int)padValue),
            TensorElementType.Int16 => Fill(new short[length], (short)padValue),
            TensorElementType.Int8 => Fill(new sbyte[length], (sbyte)padValue),
            TensorElementType.UInt64 => Fill(new ulong[length], (ulong)padValue),
            TensorElementType.UInt32 => Fill(new uint[length], (uint)padValue),
            TensorElementType.UInt16 => Fill(new ushort[length], (ushort)padValue),
            TensorElementType.UInt8 => Fill(new byte[length], (byte)padValue),
            TensorElementType.Bool => Fill(new bool[length], padValue != 0),
            TensorElementType.String => Fill(new string[length], ""),
            _ => throw new ModelNotSupportedException($"Element type {type} cannot be served."),
        };
        return new TensorData(type, shape, values);
    }

    private static T[] Fill<T>(T[] array, T value)
    {
        if (!EqualityComparer<T>.Default.Equals(value, default))
        {
            Array.Fill(array, value);
        }

        return array;
    }

    /// <summary>Copies this tensor into <paramref name="target"/> at <paramref name="rowOffset"/> along axis 0, each axis
    /// starting at 0: where the target is larger on an axis, the rest keeps its padding.</summary>
    public void CopyInto(TensorData target, long rowOffset) => ShapeMath.CopyBlock(Values, Shape, target.Values, target.Shape,
        rowOffset, sourceToTarget: true);

    /// <summary>The block of <paramref name="shape"/> starting at row <paramref name="rowOffset"/> (every other axis at 0).</summary>
    public TensorData Slice(long rowOffset, long[] shape)
    {
        var block = Array.CreateInstance(Values.GetType().GetElementType()!, checked((int)ShapeMath.Count(shape)));
        ShapeMath.CopyBlock(block, shape, Values, Shape, rowOffset, sourceToTarget: false);
        return new TensorData(Type, shape, block);
    }

    /// <summary>An ONNX Runtime value over this tensor: numeric tensors are pinned, not copied; strings are copied into
    /// native memory, as ONNX Runtime requires.</summary>
    public OrtValue ToOrtValue() => Type switch
    {
        // Switched on the element type, never on the array's runtime type: the CLR lets a byte[] pass as an sbyte[] (and
        // ushort[] as short[], uint[] as int[], ulong[] as long[]), so a pattern match on arrays would pick the wrong one.
        TensorElementType.Float => OrtValue.CreateTensorValueFromMemory((float[])Values, Shape),
        TensorElementType.Double => OrtValue.CreateTensorValueFromMemory((double[])Values, Shape),
        TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory((Float16[])Values, Shape),
        TensorElementType.BFloat16 => OrtValue.CreateTensorValueFromMemory((BFloat16[])Values, Shape),
        TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory((long[])Values, Shape),
        TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory((int[])Values, Shape),
        TensorElementType.Int16 => OrtValue.CreateTensorValueFromMemory((short[])Values, Shape),
        TensorElementType.Int8 => OrtValue.CreateTensorValueFromMemory((sbyte[])Values, Shape),
        TensorElementType.UInt64 => OrtValue.CreateTensorValueFromMemory((ulong[])Values, Shape),
        TensorElementType.UInt32 => OrtValue.CreateTensorValueFromMemory((uint[])Values, Shape),
        TensorElementType.UInt16 => OrtValue.CreateTensorValueFromMemory((ushort[])Values, Shape),
        TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory((byte[])Values, Shape),
        TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory((bool[])Values, Shape),
        TensorElementType.String => StringValue((string[])Values, Shape),
        _ => throw new ModelNotSupportedException($"Element type {Type} cannot be served."),
    };

    private static OrtValue StringValue(string[] values, long[] shape)
    {
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < values.Length; i++)
        {
            value.StringTensorSetElementAt(values[i].AsSpan(), i);
        }

        return value;
    }

    /// <summary>Copies an ONNX Runtime output out of native memory, keeping its element type.</summary>
    public static TensorData FromOrtValue(OrtValue value, string model, string output)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        Array values = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray(),
            TensorElementType.BFloat16 => value.GetTensorDataAsSpan<BFloat16>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
            TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
            TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.String => value.GetStringTensorAsArray(),
            var other => throw new ModelNotSupportedException(
                $"Model '{model}' output '{output}' has element type {other}, which the Open Inference Protocol cannot carry."),
        };
        return new TensorData(info.ElementDataType, shape, values);
    }

    /// <summary>This tensor in the Open Inference Protocol's JSON form: flat row-major data, numbers for the numeric types
    /// (FP16 and BF16 widened to their exact float value), true/false for BOOL, strings for BYTES.</summary>
    public InferTensor ToInferTensor(string name)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, Length * 8));
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartArray();
            WriteValues(writer);
            writer.WriteEndArray();
        }

        return new InferTensor
        {
            Name = name,
            Datatype = OnnxTypes.Datatype(Type) ?? Type.ToString(),
            Shape = Shape,
            Data = JsonSerializer.Deserialize<JsonElement>(buffer.WrittenSpan),
        };
    }

    /// <summary>Writes this tensor as the protocol's <c>{"name", "datatype", "shape", "data"}</c>, straight from its array
    /// (bulk output lines are written this way, with no <see cref="InferTensor"/> between).</summary>
    public void WriteTensor(Utf8JsonWriter writer, string name)
    {
        writer.WriteStartObject();
        writer.WriteString("name"u8, name);
        writer.WriteString("datatype"u8, OnnxTypes.Datatype(Type) ?? Type.ToString());
        writer.WriteStartArray("shape"u8);
        foreach (var d in Shape)
        {
            writer.WriteNumberValue(d);
        }

        writer.WriteEndArray();
        writer.WritePropertyName("data"u8);
        WriteData(writer);
        writer.WriteEndObject();
    }

    /// <summary>Writes the values as one flat JSON array, row-major.</summary>
    public void WriteData(Utf8JsonWriter writer)
    {
        writer.WriteStartArray();
        WriteValues(writer);
        writer.WriteEndArray();
    }

    private void WriteValues(Utf8JsonWriter writer)
    {
        // On the element type, not the array's runtime type (see ToOrtValue).
        switch (Type)
        {
            case TensorElementType.Float: foreach (var x in (float[])Values) WriteFloat(writer, x); break;
            case TensorElementType.Double: foreach (var x in (double[])Values) WriteDouble(writer, x); break;
            case TensorElementType.Float16: foreach (var x in (Float16[])Values) WriteFloat(writer, (float)x); break;
            case TensorElementType.BFloat16: foreach (var x in (BFloat16[])Values) WriteFloat(writer, (float)x); break;
            case TensorElementType.Int64: foreach (var x in (long[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.Int32: foreach (var x in (int[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.Int16: foreach (var x in (short[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.Int8: foreach (var x in (sbyte[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.UInt64: foreach (var x in (ulong[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.UInt32: foreach (var x in (uint[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.UInt16: foreach (var x in (ushort[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.UInt8: foreach (var x in (byte[])Values) writer.WriteNumberValue(x); break;
            case TensorElementType.Bool: foreach (var x in (bool[])Values) writer.WriteBooleanValue(x); break;
            case TensorElementType.String: foreach (var x in (string[])Values) writer.WriteStringValue(x); break;
            default: throw new ModelNotSupportedException($"Element type {Type} cannot be written.");
        }
    }

    // JSON has no NaN or infinity: they travel as the strings WireJson reads back ("NaN", "Infinity", "-Infinity").
    private static void WriteFloat(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(float.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteDouble(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }
}
