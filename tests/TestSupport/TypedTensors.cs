using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.TestSupport;

/// <summary>Six values of each served element type, extremes included, and ONNX Runtime run directly on typed arrays in the
/// test process: the reference the system's outputs are compared with.</summary>
public static class TypedTensors
{
    public static Array Sample(TensorElementType type) => type switch
    {
        TensorElementType.Bool => new[] { true, false, false, true, true, false },
        TensorElementType.UInt8 => new byte[] { 0, 255, 1, 128, 127, 42 },
        TensorElementType.UInt16 => new ushort[] { 0, ushort.MaxValue, 1, 32768, 12345, 7 },
        TensorElementType.UInt32 => new uint[] { 0, uint.MaxValue, 1, 2147483648, 123456789, 7 },
        TensorElementType.UInt64 => new ulong[] { 0, ulong.MaxValue, 1, 9223372036854775808, 12345678901234567890, 7 },
        TensorElementType.Int8 => new sbyte[] { sbyte.MinValue, sbyte.MaxValue, 0, -1, 1, 42 },
        TensorElementType.Int16 => new short[] { short.MinValue, short.MaxValue, 0, -1, 1, 4242 },
        TensorElementType.Int32 => new[] { int.MinValue, int.MaxValue, 0, -1, 1, 424242 },
        TensorElementType.Int64 => new[] { long.MinValue, long.MaxValue, 0, -1, 1, 4242424242424242 },
        TensorElementType.Float16 => new[] { (Float16)0.5f, (Float16)65504f, (Float16)(-2f), (Float16)6.1035156e-05f, (Float16)(1f / 3), (Float16)0f },
        TensorElementType.Float => new[] { float.MaxValue, float.MinValue, float.Epsilon, 0.1f, -1.5f, 1f / 3 },
        TensorElementType.Double => new[] { double.MaxValue, double.MinValue, double.Epsilon, 0.1, -1.5, Math.PI },
        TensorElementType.BFloat16 => new[] { (BFloat16)1f, (BFloat16)(-2.5f), (BFloat16)3.140625f, (BFloat16)1e38f, (BFloat16)0f, (BFloat16)(-0.0078125f) },
        TensorElementType.String => new[] { "héllo wörld", "日本語のテキスト", "🙂 emoji", "", "\"quoted\" and \\ backslash", "plain" },
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <remarks>Dispatches on the exact array type: the runtime lets <c>long[]</c> pass for <c>ulong[]</c> (and int for uint,
    /// short for ushort, sbyte for byte) in a type pattern, so <c>values is ulong[]</c> cannot tell them apart.</remarks>
    public static OrtValue ToOrtValue(Array values, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var type = values.GetType();
        if (type == typeof(string[]))
        {
            var strings = (string[])values;
            var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var i = 0; i < strings.Length; i++)
            {
                value.StringTensorSetElementAt(strings[i].AsSpan(), i);
            }

            return value;
        }

        return type == typeof(bool[]) ? OrtValue.CreateTensorValueFromMemory((bool[])values, shape)
            : type == typeof(byte[]) ? OrtValue.CreateTensorValueFromMemory((byte[])values, shape)
            : type == typeof(ushort[]) ? OrtValue.CreateTensorValueFromMemory((ushort[])values, shape)
            : type == typeof(uint[]) ? OrtValue.CreateTensorValueFromMemory((uint[])values, shape)
            : type == typeof(ulong[]) ? OrtValue.CreateTensorValueFromMemory((ulong[])values, shape)
            : type == typeof(sbyte[]) ? OrtValue.CreateTensorValueFromMemory((sbyte[])values, shape)
            : type == typeof(short[]) ? OrtValue.CreateTensorValueFromMemory((short[])values, shape)
            : type == typeof(int[]) ? OrtValue.CreateTensorValueFromMemory((int[])values, shape)
            : type == typeof(long[]) ? OrtValue.CreateTensorValueFromMemory((long[])values, shape)
            : type == typeof(Float16[]) ? OrtValue.CreateTensorValueFromMemory((Float16[])values, shape)
            : type == typeof(float[]) ? OrtValue.CreateTensorValueFromMemory((float[])values, shape)
            : type == typeof(double[]) ? OrtValue.CreateTensorValueFromMemory((double[])values, shape)
            : type == typeof(BFloat16[]) ? OrtValue.CreateTensorValueFromMemory((BFloat16[])values, shape)
            : throw new ArgumentOutOfRangeException(nameof(values), type, null);
    }

    public static Array Read(OrtValue value) => value.GetTensorTypeAndShape().ElementDataType switch
    {
        TensorElementType.String => value.GetStringTensorAsArray(),
        TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
        TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
        TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
        TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
        TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
        TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
        TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
        TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
        TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
        TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray(),
        TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
        TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
        TensorElementType.BFloat16 => value.GetTensorDataAsSpan<BFloat16>().ToArray(),
        var other => throw new ArgumentOutOfRangeException(nameof(value), other, null),
    };

    /// <summary>Runs <paramref name="model"/> on named inputs and returns the requested outputs (all when none are named),
    /// each with its element type and shape.</summary>
    public static Dictionary<string, (TensorElementType Type, long[] Shape, Array Values)> Run(byte[] model,
        IReadOnlyDictionary<string, (Array Values, long[] Shape)> inputs, params string[] outputs)
    {
        using var session = new InferenceSession(model);
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => ToOrtValue(inputs[n].Values, inputs[n].Shape)).ToArray();
        try
        {
            var wanted = outputs.Length > 0 ? outputs : session.OutputNames.ToArray();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, values, wanted);
            var read = new Dictionary<string, (TensorElementType, long[], Array)>(StringComparer.Ordinal);
            for (var i = 0; i < wanted.Length; i++)
            {
                var info = results[i].GetTensorTypeAndShape();
                read[wanted[i]] = (info.ElementDataType, info.Shape, Read(results[i]));
            }

            return read;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }
}
