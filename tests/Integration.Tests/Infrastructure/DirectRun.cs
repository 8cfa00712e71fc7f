using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>ONNX Runtime run in the test process on typed arrays: the reference the system's outputs are compared with.</summary>
internal static class DirectRun
{
    /// <summary>Runs <paramref name="model"/> on named inputs; returns every output with its element type, shape and values.</summary>
    public static Dictionary<string, (TensorElementType Type, long[] Shape, Array Values)> Run(byte[] model,
        IReadOnlyDictionary<string, (Array Values, long[] Shape)> inputs)
    {
        using var session = new InferenceSession(model);
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => ToOrtValue(inputs[n].Values, inputs[n].Shape)).ToArray();
        try
        {
            var outputs = session.OutputNames.ToArray();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, values, outputs);
            var read = new Dictionary<string, (TensorElementType, long[], Array)>(StringComparer.Ordinal);
            for (var i = 0; i < outputs.Length; i++)
            {
                var info = results[i].GetTensorTypeAndShape();
                read[outputs[i]] = (info.ElementDataType, info.Shape, Read(results[i], info.ElementDataType));
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

    /// <remarks>Dispatches on the exact array type: a type pattern lets <c>long[]</c> pass for <c>ulong[]</c> (int for uint,
    /// short for ushort, sbyte for byte), as the runtime's array casts allow.</remarks>
    private static OrtValue ToOrtValue(Array values, long[] shape)
    {
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

    private static Array Read(OrtValue value, TensorElementType type) => type switch
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
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
