using System.Globalization;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// Reads a tensor's JSON data (flat or nested, row-major) into the array of its element type, checking every element:
/// a value that does not fit the type (3.5 or "x" for INT64, 300 for INT8, NaN for a float input) is refused with its
/// index, never rounded, clamped or converted.
/// </summary>
internal static class TensorJson
{
    /// <summary>Reads <paramref name="data"/> as <paramref name="count"/> elements of <paramref name="type"/>, or says why not.
    /// <paramref name="maxStringBytes"/> bounds the UTF-8 size of all BYTES elements together.</summary>
    public static (Array? Values, string? Error) Read(JsonElement data, TensorElementType type, long count, string input, long maxStringBytes)
    {
        var found = TensorElements.Count(data);
        if (found < 0)
        {
            return (null, $"Input '{input}': data must be a JSON array of the tensor's elements in row-major order.");
        }

        if (found != count)
        {
            return (null, $"Input '{input}' has {found} values; its shape needs {count}.");
        }

        var reader = new ElementReader(input, type, checked((int)count), maxStringBytes);
        var error = reader.ReadAll(data);
        return error is null ? (reader.Values, null) : (null, error);
    }

    private sealed class ElementReader(string input, TensorElementType type, int count, long maxStringBytes)
    {
        private int _index;
        private long _stringBytes;

        public Array Values { get; } = type switch
        {
            TensorElementType.Float => new float[count],
            TensorElementType.Double => new double[count],
            TensorElementType.Float16 => new Float16[count],
            TensorElementType.BFloat16 => new BFloat16[count],
            TensorElementType.Int64 => new long[count],
            TensorElementType.Int32 => new int[count],
            TensorElementType.Int16 => new short[count],
            TensorElementType.Int8 => new sbyte[count],
            TensorElementType.UInt64 => new ulong[count],
            TensorElementType.UInt32 => new uint[count],
            TensorElementType.UInt16 => new ushort[count],
            TensorElementType.UInt8 => new byte[count],
            TensorElementType.Bool => new bool[count],
            TensorElementType.String => new string[count],
            _ => throw new ModelNotSupportedException($"Input '{input}' has element type {type}, which cannot be served."),
        };

        public string? ReadAll(JsonElement array)
        {
            foreach (var item in array.EnumerateArray())
            {
                var error = item.ValueKind == JsonValueKind.Array ? ReadAll(item) : ReadOne(item);
                if (error is not null)
                {
                    return error;
                }
            }

            return null;
        }

        // On the element type, never the array's runtime type: the CLR lets a byte[] pass as an sbyte[] (and ushort[] as
        // short[], uint[] as int[], ulong[] as long[]), so a pattern match on arrays would pick the wrong one.
        private string? ReadOne(JsonElement item)
        {
            var i = _index++;
            return type switch
            {
                TensorElementType.Float => Floating<float>(item, i, v => (float)v, float.IsFinite, "FP32"),
                TensorElementType.Double => Floating<double>(item, i, v => v, double.IsFinite, "FP64"),
                TensorElementType.Float16 => Floating<Float16>(item, i, v => (Float16)(float)v, h => float.IsFinite((float)h), "FP16"),
                TensorElementType.BFloat16 => Floating<BFloat16>(item, i, v => (BFloat16)(float)v, b => float.IsFinite((float)b), "BF16"),
                TensorElementType.Int64 => Integer<long>(item, i, long.MinValue, long.MaxValue, v => v),
                TensorElementType.Int32 => Integer<int>(item, i, int.MinValue, int.MaxValue, v => (int)v),
                TensorElementType.Int16 => Integer<short>(item, i, short.MinValue, short.MaxValue, v => (short)v),
                TensorElementType.Int8 => Integer<sbyte>(item, i, sbyte.MinValue, sbyte.MaxValue, v => (sbyte)v),
                TensorElementType.UInt32 => Integer<uint>(item, i, 0, uint.MaxValue, v => (uint)v),
                TensorElementType.UInt16 => Integer<ushort>(item, i, 0, ushort.MaxValue, v => (ushort)v),
                TensorElementType.UInt8 => Integer<byte>(item, i, 0, byte.MaxValue, v => (byte)v),
                TensorElementType.UInt64 => item.ValueKind == JsonValueKind.Number && item.TryGetUInt64(out ((ulong[])Values)[i])
                    ? null
                    : Problem(i, item, $"is not an integer from 0 to {ulong.MaxValue} (UINT64)"),
                TensorElementType.Bool => item.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? Set(i, item.GetBoolean())
                    : Problem(i, item, "is not true or false (BOOL)"),
                TensorElementType.String => item.ValueKind == JsonValueKind.String ? String(i, item.GetString()!) : Problem(i, item, "is not a string (BYTES)"),
                _ => $"Input '{input}' has element type {type}, which cannot be served.",
            };
        }

        private string? Set<T>(int i, T value)
        {
            ((T[])Values)[i] = value;
            return null;
        }

        /// <summary>A number (or a named non-finite, refused with its own reason) that must stay finite in the type.</summary>
        private string? Floating<T>(JsonElement item, int i, Func<double, T> convert, Func<T, bool> isFinite, string datatype)
        {
            var (value, error) = Real(item, i);
            if (error is not null)
            {
                return error;
            }

            var converted = convert(value);
            return isFinite(converted) ? Set(i, converted) : Problem(i, item, $"does not fit {datatype}");
        }

        private string? Integer<T>(JsonElement item, int i, long min, long max, Func<long, T> convert)
        {
            var error = Integer(item, i, min, max, out var value);
            return error ?? Set(i, convert(value));
        }

        private string? String(int i, string value)
        {
            Set(i, value);
            _stringBytes += Encoding.UTF8.GetByteCount(value);
            return _stringBytes <= maxStringBytes
                ? null
                : $"Input '{input}' holds more than {maxStringBytes} bytes of BYTES data; at most {maxStringBytes} are accepted.";
        }

        private (double Value, string? Error) Real(JsonElement item, int i)
        {
            if (item.ValueKind == JsonValueKind.Number)
            {
                return (item.GetDouble(), null);
            }

            if (item.ValueKind == JsonValueKind.String && double.TryParse(item.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var named)
                && !double.IsFinite(named))
            {
                return (named, string.Create(CultureInfo.InvariantCulture,
                    $"Input '{input}' has a non-finite value ({named}) at index {i}; every value must be a finite number."));
            }

            return (0, Problem(i, item, "is not a number"));
        }

        private string? Integer(JsonElement item, int i, long min, long max, out long value)
        {
            value = 0;
            if (item.ValueKind != JsonValueKind.Number)
            {
                return Problem(i, item, "is not an integer");
            }

            if (!item.TryGetInt64(out value))
            {
                return Problem(i, item, item.TryGetDouble(out var d) && Math.Abs(d) < 9.2e18 ? "is not an integer" : $"is out of range for {Datatype}");
            }

            return value < min || value > max
                ? Problem(i, item, $"is out of range for {Datatype} ({min} to {max})")
                : null;
        }

        private string Datatype => Onnx.OnnxTypes.Datatype(type) ?? type.ToString();

        private string Problem(int i, JsonElement item, string what)
        {
            var text = item.GetRawText();
            if (text.Length > 40)
            {
                text = text[..40] + "…";
            }

            return $"Input '{input}' ({Datatype}): the value {text} at index {i} {what}.";
        }
    }
}
