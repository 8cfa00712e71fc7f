using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// Turns an OpenAI batch file for <c>/v1/embeddings</c> (<c>{"custom_id", "method": "POST", "url": "/v1/embeddings", "body":
/// {"model", "input", ...}}</c> per line) into the records a bulk job reads (<c>{"id", "text"}</c> per line), one record per
/// input string: a request with k strings becomes k records, which <see cref="BatchResultTranslator"/> joins back into one
/// response. A line that cannot be run (bad JSON, no or a repeated custom_id, another method, url or model, no input,
/// token arrays, other dimensions) becomes an error line in OpenAI's form, and the file goes on. Both outputs are streams,
/// so no side holds the file; only the custom_ids seen are kept, to refuse repeats.
/// </summary>
public sealed class BatchInputTranslator(string batchId, string model, int? dimensions)
{
    public const string Endpoint = "/v1/embeddings";

    private readonly HashSet<string> _customIds = new(StringComparer.Ordinal);

    public long Requests { get; private set; }
    public long Refused { get; private set; }
    public long Records { get; private set; }

    /// <summary>The first refusals, for the answer to a file none of whose lines can run.</summary>
    public List<OpenAiBatchError> FirstRefusals { get; } = [];

    /// <summary>The model the first request that names one names: the batch's model, which every line must name.</summary>
    public static async Task<string?> FindModelAsync(TextReader input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        while (await input.ReadLineAsync(cancellationToken) is { } line)
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("body", out var body)
                    && body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    return name.GetString();
                }
            }
            catch (JsonException)
            {
                // A bad line names no model; the translation lists it.
            }
        }

        return null;
    }

    public async Task TranslateAsync(TextReader input, Stream records, Stream errors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var recordLines = new JsonLineWriter(records);
        using var errorLines = new JsonLineWriter(errors);
        long lineNumber = 0;
        while (await input.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            Requests++;
            var (customId, request, code, message) = Read(line);
            if (request is null)
            {
                Refused++;
                WriteRefusal(errorLines.Json, customId, lineNumber, code!, message!);
                await errorLines.EndLineAsync(cancellationToken);
                continue;
            }

            for (var part = 0; part < request.Inputs.Count; part++)
            {
                var record = recordLines.Json;
                record.WriteStartObject();
                record.WriteString("id"u8, RecordId.Format(part, request.Inputs.Count, request.Base64, customId!));
                record.WriteString("text"u8, request.Inputs[part]);
                record.WriteEndObject();
                await recordLines.EndLineAsync(cancellationToken);
                Records++;
            }
        }

        await recordLines.FlushAsync(cancellationToken);
        await errorLines.FlushAsync(cancellationToken);
    }

    /// <summary>The line's custom_id and request, or the error code and message that refuse it.</summary>
    private (string? CustomId, EmbeddingsRequest? Request, string? Code, string? Message) Read(string line)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            return (null, null, "invalid_json", $"The line is not JSON: {ex.Message}");
        }

        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null, "invalid_json", "The line is not a JSON object.");
            }

            var customId = root.TryGetProperty("custom_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
            if (string.IsNullOrEmpty(customId))
            {
                return (null, null, "missing_custom_id", "'custom_id' is required: a non-empty string, unique in the file.");
            }

            if (!_customIds.Add(customId))
            {
                return (customId, null, "duplicate_custom_id", $"The custom_id '{customId}' is used by an earlier line; each must be unique.");
            }

            if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String || method.GetString() != "POST")
            {
                return (customId, null, "invalid_method", "'method' must be \"POST\".");
            }

            if (!root.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String || url.GetString() != Endpoint)
            {
                return (customId, null, "invalid_url", $"'url' must be \"{Endpoint}\", the batch's endpoint.");
            }

            if (!root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
            {
                return (customId, null, "invalid_body", "'body' is required: the embeddings request, a JSON object.");
            }

            if (EmbeddingsRequest.Read(body, out var invalid, out _) is not { } request)
            {
                return (customId, null, "invalid_body", invalid);
            }

            if (request.Model != model)
            {
                return (customId, null, "model_mismatch", $"The batch runs model '{model}' (named by its first request); this line names '{request.Model}'. "
                    + "Every request in a batch must name the same model.");
            }

            return request.DimensionsProblem(dimensions) is { } problem
                ? (customId, null, "invalid_body", problem)
                : (customId, request, null, null);
        }
    }

    private void WriteRefusal(Utf8JsonWriter writer, string? customId, long lineNumber, string code, string message)
    {
        message = $"Line {lineNumber}: {message}";
        if (FirstRefusals.Count < 10)
        {
            FirstRefusals.Add(new OpenAiBatchError { Code = code, Message = message, Line = lineNumber });
        }

        writer.WriteStartObject();
        // By line: a refused line may repeat a custom_id that a request which runs holds.
        writer.WriteString("id"u8, RequestId(batchId, FormattableString.Invariant($"\0line {lineNumber}")));
        if (customId is null)
        {
            writer.WriteNull("custom_id"u8);
        }
        else
        {
            writer.WriteString("custom_id"u8, customId);
        }

        writer.WriteNull("response"u8);
        writer.WriteStartObject("error"u8);
        writer.WriteString("code"u8, code);
        writer.WriteString("message"u8, message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>OpenAI's per-request id in output and error lines: the same for the same batch and request every time the
    /// files are read.</summary>
    public static string RequestId(string batchId, string customId) =>
        "batch_req_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(batchId + "\n" + customId)).AsSpan(0, 16));
}

/// <summary>
/// The id of a record made from a batch request: <c>{part}/{count}/{f|b}/{custom_id}</c>, the input's position in its
/// request, the request's input count, the encoding asked for and the request's custom_id. Carrying all of it in the id
/// lets the bulk job's output and error lines be translated alone, in one pass.
/// </summary>
public readonly record struct RecordId(int Part, int Count, bool Base64, string CustomId)
{
    public static string Format(int part, int count, bool base64, string customId) =>
        FormattableString.Invariant($"{part}/{count}/{(base64 ? 'b' : 'f')}/{customId}");

    public static RecordId? Parse(string? id)
    {
        var parts = id?.Split('/', 4);
        return parts is { Length: 4 } && int.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var part)
            && int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var count) && part >= 0 && part < count
            && parts[2] is "b" or "f"
            ? new RecordId(part, count, parts[2] == "b", parts[3])
            : null;
    }
}
