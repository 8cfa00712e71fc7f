using System.Text.Json;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// An OpenAI embeddings request body (<c>{"model", "input", "encoding_format", "dimensions", "user"}</c>) as read here:
/// the model, the texts, and how to encode the answer; or the reason, and the parameter at fault, it cannot be run.
/// Used both by <c>POST /v1/embeddings</c> and by every line of a batch file.
/// </summary>
public sealed record EmbeddingsRequest
{
    /// <summary>OpenAI's own bound on inputs per request.</summary>
    public const int MaxInputs = 2048;

    public required string Model { get; init; }
    public required IReadOnlyList<string> Inputs { get; init; }
    public bool Base64 { get; init; }
    public int? Dimensions { get; init; }

    /// <summary>Reads a request body; <paramref name="error"/> (with the parameter named in <paramref name="param"/>) when
    /// it cannot be run. Token arrays (an array of integers, or of integer arrays) are refused: a text-embedding model
    /// tokenizes its text in the worker with its own vocabulary, and the worker takes no token ids.</summary>
    public static EmbeddingsRequest? Read(JsonElement body, out string? error, out string? param)
    {
        error = null;
        param = null;
        if (body.ValueKind != JsonValueKind.Object)
        {
            error = "The body must be a JSON object.";
            return null;
        }

        if (!body.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(model.GetString()))
        {
            (error, param) = ("'model' is required: the name of a registered model with a text-embedding recipe.", "model");
            return null;
        }

        if (ReadInputs(body, out error) is not { } inputs)
        {
            param = "input";
            return null;
        }

        var base64 = false;
        if (body.TryGetProperty("encoding_format", out var format) && format.ValueKind != JsonValueKind.Null)
        {
            if (format.ValueKind != JsonValueKind.String || format.GetString() is not ("float" or "base64"))
            {
                (error, param) = ("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
                return null;
            }

            base64 = format.GetString() == "base64";
        }

        int? dimensions = null;
        if (body.TryGetProperty("dimensions", out var dims) && dims.ValueKind != JsonValueKind.Null)
        {
            if (dims.ValueKind != JsonValueKind.Number || !dims.TryGetInt32(out var value) || value < 1)
            {
                (error, param) = ("'dimensions' must be a positive integer.", "dimensions");
                return null;
            }

            dimensions = value;
        }

        if (body.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            (error, param) = ("'user' must be a string.", "user");
            return null;
        }

        return new EmbeddingsRequest { Model = model.GetString()!, Inputs = inputs, Base64 = base64, Dimensions = dimensions };
    }

    /// <summary>Why <see cref="Dimensions"/> cannot be served by a model whose embeddings have <paramref name="modelDimensions"/>
    /// values (null: not fixed by its signature), or null. This server does not shorten embeddings.</summary>
    public string? DimensionsProblem(int? modelDimensions) =>
        Dimensions is not { } asked || asked == modelDimensions ? null
        : modelDimensions is { } fixedSize
            ? $"Model '{Model}' makes embeddings of {fixedSize} dimensions; 'dimensions' may only be {fixedSize} (shortening is not supported)."
            : $"Model '{Model}' does not state its embedding size; leave 'dimensions' out.";

    private static List<string>? ReadInputs(JsonElement body, out string? error)
    {
        error = null;
        if (!body.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            error = "'input' is required: a string or an array of strings.";
            return null;
        }

        if (input.ValueKind == JsonValueKind.String)
        {
            return Text(input, 0, out error) is { } one ? [one] : null;
        }

        if (input.ValueKind != JsonValueKind.Array)
        {
            error = "'input' must be a string or an array of strings.";
            return null;
        }

        var count = input.GetArrayLength();
        if (count == 0 || count > MaxInputs)
        {
            error = $"'input' must hold 1 to {MaxInputs} strings; it holds {count}.";
            return null;
        }

        var texts = new List<string>(count);
        foreach (var item in input.EnumerateArray())
        {
            if (item.ValueKind is JsonValueKind.Number or JsonValueKind.Array)
            {
                error = "Token arrays are not supported: send the text as strings. The model tokenizes text with its own vocabulary "
                    + "in the worker, which takes no token ids.";
                return null;
            }

            if (Text(item, texts.Count, out error) is not { } text)
            {
                return null;
            }

            texts.Add(text);
        }

        return texts;
    }

    private static string? Text(JsonElement item, int index, out string? error)
    {
        error = item.ValueKind != JsonValueKind.String ? $"input[{index}] must be a string."
            : string.IsNullOrEmpty(item.GetString()) ? $"input[{index}] is empty; every input must be a non-empty string."
            : null;
        return error is null ? item.GetString() : null;
    }
}
