using System.Text.Json;
using System.Text.Json.Serialization;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

// OpenAI's JSON objects for the embeddings, files and Batch APIs, their snake_case names spelled out so that they do not
// depend on the serializer's naming policy. Nulls are written, as OpenAI writes them.

/// <summary>OpenAI's error object: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record OpenAiErrorResponse([property: JsonPropertyName("error")] OpenAiError Error);

public sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);

/// <summary>The answer of <c>POST /v1/embeddings</c>.</summary>
public sealed record EmbeddingsResponse
{
    [JsonPropertyName("object")]
    public string ObjectType => "list";

    [JsonPropertyName("data")]
    public required IReadOnlyList<EmbeddingItem> Data { get; init; }

    [JsonPropertyName("model")]
    public required string Model { get; init; }

    [JsonPropertyName("usage")]
    public required EmbeddingsUsage Usage { get; init; }
}

/// <summary>One input's embedding: an array of floats, or (<c>encoding_format: "base64"</c>) their little-endian float32
/// bytes in base64.</summary>
public sealed record EmbeddingItem
{
    [JsonPropertyName("object")]
    public string ObjectType => "embedding";

    [JsonPropertyName("index")]
    public required int Index { get; init; }

    /// <summary>A <c>float[]</c> or a base64 string.</summary>
    [JsonPropertyName("embedding")]
    public required object Embedding { get; init; }
}

public sealed record EmbeddingsUsage
{
    [JsonPropertyName("prompt_tokens")]
    public required long PromptTokens { get; init; }

    [JsonPropertyName("total_tokens")]
    public required long TotalTokens { get; init; }
}

/// <summary>OpenAI's file object.</summary>
public sealed record OpenAiFile
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("object")]
    public string ObjectType => "file";

    [JsonPropertyName("bytes")]
    public required long Bytes { get; init; }

    [JsonPropertyName("created_at")]
    public required long CreatedAt { get; init; }

    [JsonPropertyName("expires_at")]
    public long? ExpiresAt { get; init; }

    [JsonPropertyName("filename")]
    public required string Filename { get; init; }

    [JsonPropertyName("purpose")]
    public required string Purpose { get; init; }

    /// <summary>Always <c>processed</c>: a file is stored whole before it is answered.</summary>
    [JsonPropertyName("status")]
    public string Status => "processed";

    [JsonPropertyName("status_details")]
    public string? StatusDetails { get; init; }
}

/// <summary>The body of <c>POST /v1/batches</c> in OpenAI's form (sent as <c>application/json</c>).</summary>
public sealed record OpenAiBatchRequest
{
    [JsonPropertyName("input_file_id")]
    public string? InputFileId { get; init; }

    [JsonPropertyName("endpoint")]
    public string? Endpoint { get; init; }

    [JsonPropertyName("completion_window")]
    public string? CompletionWindow { get; init; }

    [JsonPropertyName("metadata")]
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>OpenAI's batch object.</summary>
public sealed record OpenAiBatch
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("object")]
    public string ObjectType => "batch";

    /// <summary><c>/v1/embeddings</c>; null for a bulk job submitted in this server's own form.</summary>
    [JsonPropertyName("endpoint")]
    public string? Endpoint { get; init; }

    [JsonPropertyName("model")]
    public string? Model { get; init; }

    [JsonPropertyName("errors")]
    public OpenAiBatchErrors? Errors { get; init; }

    [JsonPropertyName("input_file_id")]
    public required string InputFileId { get; init; }

    [JsonPropertyName("completion_window")]
    public string? CompletionWindow { get; init; }

    /// <summary>validating, failed, in_progress, finalizing, completed, expired, cancelling or cancelled.</summary>
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("output_file_id")]
    public string? OutputFileId { get; init; }

    [JsonPropertyName("error_file_id")]
    public string? ErrorFileId { get; init; }

    [JsonPropertyName("created_at")]
    public required long CreatedAt { get; init; }

    [JsonPropertyName("in_progress_at")]
    public long? InProgressAt { get; init; }

    [JsonPropertyName("expires_at")]
    public long? ExpiresAt { get; init; }

    [JsonPropertyName("finalizing_at")]
    public long? FinalizingAt { get; init; }

    [JsonPropertyName("completed_at")]
    public long? CompletedAt { get; init; }

    [JsonPropertyName("failed_at")]
    public long? FailedAt { get; init; }

    [JsonPropertyName("expired_at")]
    public long? ExpiredAt { get; init; }

    [JsonPropertyName("cancelling_at")]
    public long? CancellingAt { get; init; }

    [JsonPropertyName("cancelled_at")]
    public long? CancelledAt { get; init; }

    [JsonPropertyName("request_counts")]
    public required OpenAiRequestCounts RequestCounts { get; init; }

    [JsonPropertyName("metadata")]
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

public sealed record OpenAiBatchErrors
{
    [JsonPropertyName("object")]
    public string ObjectType => "list";

    [JsonPropertyName("data")]
    public required IReadOnlyList<OpenAiBatchError> Data { get; init; }
}

public sealed record OpenAiBatchError
{
    [JsonPropertyName("code")]
    public required string Code { get; init; }

    [JsonPropertyName("message")]
    public required string Message { get; init; }

    [JsonPropertyName("param")]
    public string? Param { get; init; }

    [JsonPropertyName("line")]
    public long? Line { get; init; }
}

public sealed record OpenAiRequestCounts
{
    [JsonPropertyName("total")]
    public required long Total { get; init; }

    [JsonPropertyName("completed")]
    public required long Completed { get; init; }

    [JsonPropertyName("failed")]
    public required long Failed { get; init; }
}

/// <summary>OpenAI's cursor page: <c>{"object": "list", "data", "first_id", "last_id", "has_more"}</c>.</summary>
public sealed record OpenAiList<T>
{
    [JsonPropertyName("object")]
    public string ObjectType => "list";

    [JsonPropertyName("data")]
    public required IReadOnlyList<T> Data { get; init; }

    [JsonPropertyName("first_id")]
    public string? FirstId { get; init; }

    [JsonPropertyName("last_id")]
    public string? LastId { get; init; }

    [JsonPropertyName("has_more")]
    public required bool HasMore { get; init; }
}

/// <summary>
/// What an OpenAI batch adds to the bulk job that runs it, stored as a small file beside the job's translated input (whose
/// name points to it): the file the client uploaded, the endpoint and window it asked for, its metadata, and what the
/// translation found, which the batch's counts and error file need.
/// </summary>
public sealed record OpenAiBatchManifest
{
    [JsonPropertyName("input_file_id")]
    public required string InputFileId { get; init; }

    [JsonPropertyName("endpoint")]
    public required string Endpoint { get; init; }

    [JsonPropertyName("completion_window")]
    public required string CompletionWindow { get; init; }

    [JsonPropertyName("metadata")]
    public Dictionary<string, string>? Metadata { get; init; }

    /// <summary>The model every request names (plain, as the client wrote it).</summary>
    [JsonPropertyName("model")]
    public required string Model { get; init; }

    /// <summary>Request lines in the file.</summary>
    [JsonPropertyName("requests")]
    public required long Requests { get; init; }

    /// <summary>Request lines refused by the translation (they are in <see cref="ErrorsFileId"/>).</summary>
    [JsonPropertyName("refused")]
    public required long Refused { get; init; }

    /// <summary>Records the valid requests became: one per input string.</summary>
    [JsonPropertyName("records")]
    public required long Records { get; init; }

    /// <summary>The stored error lines of the refused requests, already in OpenAI's form; null when none was refused.</summary>
    [JsonPropertyName("errors_file_id")]
    public string? ErrorsFileId { get; init; }

    public static OpenAiBatchManifest? Parse(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize<OpenAiBatchManifest>(json);
}
