using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

internal static class StoreJson
{
    /// <summary>Floats are written shortest-round-trip; NaN and infinities, which models do produce, as named literals.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>A job's stored outputs: the list of OIP tensors, or the map by name of float tensors that versions before
    /// typed tensors stored (their shape without the batch dimension; every model then had one, so it becomes 1).</summary>
    public static IReadOnlyList<InferTensor>? ReadOutputs(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            return document.RootElement.Deserialize<List<InferTensor>>(Options);
        }

        return document.RootElement.EnumerateObject().Select(output => new InferTensor
        {
            Name = output.Name,
            Datatype = TensorDatatypes.Fp32,
            Shape = [1, .. output.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())],
            Data = output.Value.GetProperty("data").Clone(),
        }).ToList();
    }

    /// <summary>Float32 little-endian bytes (how MongoDB documents stored outputs before typed tensors) as a JSON array.</summary>
    public static JsonElement FloatsFromBytes(byte[] data)
    {
        var values = new float[data.Length / sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(i * sizeof(float)));
        }

        return JsonSerializer.SerializeToElement(values, Options);
    }
}
