using System.Text.Json;
using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// Reads a job's <c>inputs</c> in either form: the OIP list <c>[{"name", "datatype", "shape", "data"}]</c>, or the map
/// of float arrays earlier versions took (<c>{"input": [1, 2, 3, 4]}</c>), which becomes FP32 tensors without a shape.
/// Writes the list form. Part of the wire so that the SDK, the HTTP API and plain AMQP publishers are read alike.
/// </summary>
public sealed class InferInputsJsonConverter : JsonConverter<IReadOnlyList<InferTensor>>
{
    public override IReadOnlyList<InferTensor>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return JsonSerializer.Deserialize<List<InferTensor>>(ref reader, options);
        }

        var map = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(ref reader, options)!;
        return map.Select(kv => new InferTensor { Name = kv.Key, Datatype = TensorDatatypes.Fp32, Data = kv.Value }).ToList();
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<InferTensor> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.ToList(), options);
}
