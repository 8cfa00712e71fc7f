using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using AIaaS.Queue.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// A JSON Schema (draft 2020-12) per command a client may publish on the broker, generated from the contract types with the
/// wire's own serializer settings, so that clients in other languages can validate a message before they publish it and
/// the schema cannot drift from what workers read. The schema describes the <c>message</c> inside MassTransit's envelope.
/// </summary>
public static class SchemasApi
{
    private static readonly IReadOnlyDictionary<string, Type> Commands = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        [nameof(SubmitPredictJob)] = typeof(SubmitPredictJob),
        [nameof(SubmitTrainJob)] = typeof(SubmitTrainJob),
        [nameof(CancelJob)] = typeof(CancelJob),
        [nameof(SubmitBulkJob)] = typeof(SubmitBulkJob),
    };

    private static readonly JsonSerializerOptions Wire = new(WireJson.Options) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };

    private static readonly JsonSchemaExporterOptions Exporter = new() { TreatNullObliviousAsNonNullable = true };

    public static IEndpointRouteBuilder MapSchemasApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/schemas").WithTags("Schemas");
        api.MapGet("/", ListSchemas).WithName("ListMessageSchemas")
            .WithSummary("The commands a client publishes on the broker, each with its exchange and the address of its JSON Schema.");
        api.MapGet("/{name}", GetSchema).WithName("GetMessageSchema")
            .WithSummary("The JSON Schema (draft 2020-12) of one command's message, as the workers read it.");
        return app;
    }

    public static Ok<IReadOnlyList<MessageSchemaLink>> ListSchemas() =>
        TypedResults.Ok<IReadOnlyList<MessageSchemaLink>>([.. Commands.Keys.Order(StringComparer.Ordinal)
            .Select(name => new MessageSchemaLink(name, Exchange(Commands[name]), $"/v1/schemas/{name}"))]);

    public static Results<ContentHttpResult, ProblemHttpResult> GetSchema(string name) =>
        Commands.TryGetValue(name, out var type)
            ? TypedResults.Content(Schema(type).ToJsonString(), "application/schema+json")
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown message",
                $"No command '{name}'; the commands are {string.Join(", ", Commands.Keys.Order(StringComparer.Ordinal))}.");

    /// <summary>The schema of <paramref name="type"/>'s message. Members read by a converter of their own (a predict job's
    /// <c>inputs</c>, which also takes the float map of earlier versions) are described by the type they read into.</summary>
    internal static JsonObject Schema(Type type)
    {
        var schema = (JsonObject)Wire.GetJsonSchemaAsNode(type, Exporter);
        if (type == typeof(SubmitPredictJob) && schema["properties"] is JsonObject properties)
        {
            var tensors = Wire.GetJsonSchemaAsNode(typeof(IReadOnlyList<InferTensor>), Exporter);
            properties["inputs"] = new JsonObject { ["type"] = new JsonArray("array", "null"), ["items"] = tensors["items"]?.DeepClone() };
        }

        var described = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = type.Name,
            ["description"] = $"The message of a {type.Name} command, published (in MassTransit's JSON envelope, as its \"message\") to the fanout exchange {Exchange(type)}.",
        };
        foreach (var (key, value) in schema)
        {
            described[key] = value?.DeepClone();
        }

        return described;
    }

    private static string Exchange(Type type) => $"{type.Namespace}:{type.Name}";
}

/// <summary>A command, the exchange it is published to, and where its schema is.</summary>
public sealed record MessageSchemaLink(string Name, string Exchange, string Schema);
