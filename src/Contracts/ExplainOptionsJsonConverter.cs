using System.Text.Json;
using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>Reads <c>"explain"</c> as <c>true</c> (the defaults), <c>false</c> (none) or an options object; writes the
/// object. Part of the wire so that the SDK, the HTTP API and plain AMQP publishers are read alike.</summary>
public sealed class ExplainOptionsJsonConverter : JsonConverter<ExplainOptions>
{
    public override bool HandleNull => true;

    public override ExplainOptions? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                return new ExplainOptions();
            case JsonTokenType.False or JsonTokenType.Null:
                return null;
            case JsonTokenType.StartObject:
                int? samples = null, seed = null;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = reader.GetString();
                    reader.Read();
                    if (string.Equals(name, "samples", StringComparison.OrdinalIgnoreCase))
                    {
                        samples = ReadNumber(ref reader, "samples");
                    }
                    else if (string.Equals(name, "seed", StringComparison.OrdinalIgnoreCase))
                    {
                        seed = ReadNumber(ref reader, "seed");
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                return new ExplainOptions { Samples = samples, Seed = seed };
            default:
                throw new JsonException("explain must be true, false or an object such as {\"samples\": 2048, \"seed\": 1}.");
        }
    }

    private static int? ReadNumber(ref Utf8JsonReader reader, string name) =>
        reader.TokenType == JsonTokenType.Null ? null
        : reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) ? value
        : throw new JsonException($"explain.{name} must be a whole number.");

    public override void Write(Utf8JsonWriter writer, ExplainOptions? value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartObject();
        if (value.Samples is { } samples)
        {
            writer.WriteNumber("samples", samples);
        }

        if (value.Seed is { } seed)
        {
            writer.WriteNumber("seed", seed);
        }

        writer.WriteEndObject();
    }
}
