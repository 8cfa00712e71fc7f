using System.Text.Json;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// Turns a bulk job's stored lines back into an OpenAI batch's output and error files, when they are read: per request
/// <c>{"id": "batch_req_…", "custom_id", "response": {"status_code": 200, "request_id", "body": {"object": "list", "data",
/// "model", "usage"}}, "error": null}</c>, and per failed request a line with <c>"response": {"status_code": 400, "body":
/// {"error": ...}}</c>. The stored lines stay the one copy of the results (streamed chunk by chunk, in input order, as they
/// are for bulk jobs), so nothing is written at finalization and a batch's files can be read, partial, while it runs. The
/// records of one request are consecutive in input order: a request is answered once all of them are in the output; one
/// with any record missing (failed, or skipped after a cancel) is left out, its failure being in the error file.
/// </summary>
public sealed class BatchResultTranslator(string batchId, string model)
{
    /// <summary>Translates bulk output lines (<c>{"id", "outputs"}</c>); returns the response lines written.</summary>
    public async Task<long> TranslateOutputAsync(TextReader bulkOutput, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bulkOutput);
        using var lines = new JsonLineWriter(destination);
        var group = new List<(float[] Embedding, long Tokens)>();
        RecordId? current = null;
        long written = 0;
        while (await bulkOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line) || !TryReadOutput(line, out var id, out var embedding, out var tokens))
            {
                continue;
            }

            if (current is not { } open || open.CustomId != id.CustomId || id.Part != group.Count)
            {
                // A new request begins (any unfinished one before it lost a record), or a record is out of place.
                group.Clear();
                current = id.Part == 0 ? id : null;
                if (current is null)
                {
                    continue;
                }
            }

            group.Add((embedding, tokens));
            if (group.Count == id.Count)
            {
                WriteResponse(lines.Json, id, group);
                await lines.EndLineAsync(cancellationToken);
                written++;
                group.Clear();
                current = null;
            }
        }

        await lines.FlushAsync(cancellationToken);
        return written;
    }

    /// <summary>Translates bulk error lines (<c>{"id", "line", "error"}</c>), one line per failed request (a request with
    /// several failed inputs is listed once, with the first); returns the lines written.</summary>
    public async Task<long> TranslateErrorsAsync(TextReader bulkErrors, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bulkErrors);
        using var lines = new JsonLineWriter(destination);
        string? previous = null;
        long written = 0;
        while (await bulkErrors.ReadLineAsync(cancellationToken) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            string? rawId;
            string reason;
            using (var json = JsonDocument.Parse(line))
            {
                var root = json.RootElement;
                rawId = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
                reason = root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String ? error.GetString()! : "The input failed.";
            }

            var id = RecordId.Parse(rawId);
            var customId = id?.CustomId ?? rawId ?? "";
            if (customId == previous)
            {
                continue;
            }

            previous = customId;
            WriteFailure(lines.Json, customId, id is { Count: > 1 } many ? $"input[{many.Part}]: {reason}" : reason);
            await lines.EndLineAsync(cancellationToken);
            written++;
        }

        await lines.FlushAsync(cancellationToken);
        return written;
    }

    private static bool TryReadOutput(string line, out RecordId id, out float[] embedding, out long tokens)
    {
        id = default;
        embedding = [];
        tokens = 0;
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id", out var rawId) || rawId.ValueKind != JsonValueKind.String
            || RecordId.Parse(rawId.GetString()) is not { } parsed || !root.TryGetProperty("outputs", out var outputs))
        {
            return false;
        }

        id = parsed;
        return EmbeddingVectors.TryRead(outputs, out embedding, out tokens);
    }

    private void WriteResponse(Utf8JsonWriter writer, RecordId id, List<(float[] Embedding, long Tokens)> group)
    {
        var requestId = BatchInputTranslator.RequestId(batchId, id.CustomId);
        writer.WriteStartObject();
        writer.WriteString("id"u8, requestId);
        writer.WriteString("custom_id"u8, id.CustomId);
        writer.WriteStartObject("response"u8);
        writer.WriteNumber("status_code"u8, 200);
        writer.WriteString("request_id"u8, requestId);
        writer.WriteStartObject("body"u8);
        writer.WriteString("object"u8, "list");
        writer.WriteStartArray("data"u8);
        long tokens = 0;
        for (var i = 0; i < group.Count; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("object"u8, "embedding");
            writer.WriteNumber("index"u8, i);
            if (id.Base64)
            {
                writer.WriteString("embedding"u8, EmbeddingVectors.ToBase64(group[i].Embedding));
            }
            else
            {
                writer.WriteStartArray("embedding"u8);
                foreach (var value in group[i].Embedding)
                {
                    writer.WriteNumberValue(value);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            tokens += group[i].Tokens;
        }

        writer.WriteEndArray();
        writer.WriteString("model"u8, model);
        writer.WriteStartObject("usage"u8);
        writer.WriteNumber("prompt_tokens"u8, tokens);
        writer.WriteNumber("total_tokens"u8, tokens);
        writer.WriteEndObject();
        writer.WriteEndObject(); // body
        writer.WriteEndObject(); // response
        writer.WriteNull("error"u8);
        writer.WriteEndObject();
    }

    private void WriteFailure(Utf8JsonWriter writer, string customId, string reason)
    {
        var requestId = BatchInputTranslator.RequestId(batchId, customId);
        writer.WriteStartObject();
        writer.WriteString("id"u8, requestId);
        writer.WriteString("custom_id"u8, customId);
        writer.WriteStartObject("response"u8);
        writer.WriteNumber("status_code"u8, 400);
        writer.WriteString("request_id"u8, requestId);
        writer.WriteStartObject("body"u8);
        writer.WriteStartObject("error"u8);
        writer.WriteString("message"u8, reason);
        writer.WriteString("type"u8, OpenAiErrors.InvalidRequest);
        writer.WriteString("param"u8, "input");
        writer.WriteNull("code"u8);
        writer.WriteEndObject();
        writer.WriteEndObject(); // body
        writer.WriteEndObject(); // response
        writer.WriteNull("error"u8);
        writer.WriteEndObject();
    }
}
