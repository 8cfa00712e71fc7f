using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.ResultApi.Apis;

// The Open Inference Protocol's (KServe v2) HTTP/REST JSON objects, with the protocol's own snake_case names spelled out, so
// that they do not depend on the serializer's naming policy. Tensors are the contracts' InferTensor, whose four properties
// are single words (name, datatype, shape, data) in every policy.

/// <summary><c>$inference_request</c>: the body of <c>POST /v2/models/{name}[/versions/{v}]/infer</c>.</summary>
public sealed record InferenceRequest
{
    [JsonPropertyName("id")]
    public string? Id { get; init; }

    /// <summary>Request parameters. Read here: <c>timeout_ms</c> (how long to wait for the result before answering 202) and
    /// <c>job_id</c> (a GUID: the job's id and idempotency key, as JobId on <c>POST /v1/jobs</c>); others are ignored.</summary>
    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }

    [JsonPropertyName("inputs")]
    public IReadOnlyList<InferenceRequestInput>? Inputs { get; init; }

    [JsonPropertyName("outputs")]
    public IReadOnlyList<InferenceRequestOutput>? Outputs { get; init; }
}

/// <summary><c>$request_input</c>: one input tensor, its shape the whole tensor's, batch dimension included.</summary>
public sealed record InferenceRequestInput
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("shape")]
    public IReadOnlyList<long>? Shape { get; init; }

    [JsonPropertyName("datatype")]
    public string? Datatype { get; init; }

    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }

    [JsonPropertyName("data")]
    public JsonElement Data { get; init; }
}

/// <summary><c>$request_output</c>: an output the request asks for by name.</summary>
public sealed record InferenceRequestOutput
{
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; init; }
}

/// <summary><c>$inference_response</c>. Its <c>parameters</c> carry the job's id (<c>job_id</c>) and the size of the model
/// call it ran in (<c>batch_size</c>).</summary>
public sealed record InferenceResponse
{
    [JsonPropertyName("model_name")]
    public required string ModelName { get; init; }

    [JsonPropertyName("model_version")]
    public string? ModelVersion { get; init; }

    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("parameters")]
    public IReadOnlyDictionary<string, object>? Parameters { get; init; }

    [JsonPropertyName("outputs")]
    public required IReadOnlyList<InferTensor> Outputs { get; init; }
}

/// <summary><c>$metadata_model_response</c>. <c>parameters</c> is this server's addition (the protocol's objects allow
/// more members): how the model is batched; see <see cref="InferenceApi"/>.</summary>
public sealed record ModelMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("versions")]
    public required IReadOnlyList<string> Versions { get; init; }

    [JsonPropertyName("platform")]
    public required string Platform { get; init; }

    [JsonPropertyName("inputs")]
    public required IReadOnlyList<MetadataTensor> Inputs { get; init; }

    [JsonPropertyName("outputs")]
    public required IReadOnlyList<MetadataTensor> Outputs { get; init; }

    [JsonPropertyName("parameters")]
    public IReadOnlyDictionary<string, object>? Parameters { get; init; }
}

/// <summary><c>$metadata_tensor</c>: -1 in <see cref="Shape"/> is a dynamic dimension.</summary>
public sealed record MetadataTensor
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("datatype")]
    public required string Datatype { get; init; }

    [JsonPropertyName("shape")]
    public required IReadOnlyList<long> Shape { get; init; }
}

/// <summary><c>$metadata_server_response</c>.</summary>
public sealed record ServerMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("extensions")]
    public required IReadOnlyList<string> Extensions { get; init; }
}

/// <summary><c>$live_server_response</c>.</summary>
public sealed record ServerLiveResponse([property: JsonPropertyName("live")] bool Live);

/// <summary><c>$ready_server_response</c>.</summary>
public sealed record ServerReadyResponse([property: JsonPropertyName("ready")] bool Ready);

/// <summary><c>$ready_model_response</c>.</summary>
public sealed record ModelReadyResponse([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("ready")] bool Ready);

/// <summary>The protocol's error object, for every error it answers: <c>{"error": "..."}</c>.</summary>
public sealed record InferenceError([property: JsonPropertyName("error")] string Error);
