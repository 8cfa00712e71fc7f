using System.Text;
using System.Text.Json;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Recipes;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Bulk records of a version with a recipe: JSON lines <c>{"id": .., "text": ".."}</c> or <c>{"id": .., "image": "&lt;base64&gt;"}</c>,
/// or CSV rows with a <c>text</c> column. Text is tokenized here, once, and travels in its chunk as token ids; an image
/// travels as its bytes and is decoded when scored. A bad record gets its reason, as a predict job would.
/// </summary>
internal sealed class BulkRecipeRecords(LoadedModel model, RecipeRunner runner, InputLimits limits)
{
    public BulkRecord ParseJson(ReadOnlySpan<byte> line, long lineNumber)
    {
        var fields = new Fields();
        try
        {
            var json = new Utf8JsonReader(line);
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
            {
                return new BulkRecord(lineNumber, null, "The line is not a JSON object.");
            }

            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                ReadField(ref json, ref fields);
                json.Skip(); // the rest of a value not read, and fields a client keeps with its records, are ignored
            }
        }
        catch (JsonException ex)
        {
            return new BulkRecord(lineNumber, fields.Id, $"The line is not valid JSON: {ex.Message}");
        }

        return fields.Id is null or { Length: 0 }
            ? new BulkRecord(lineNumber, null, "The record has no \"id\" (a string or number that identifies it in the output).")
            : fields.Error is not null ? new BulkRecord(lineNumber, fields.Id, fields.Error)
            : Record(lineNumber, fields.Id, fields.Text, fields.Image);
    }

    /// <summary>Reads the value of the property the reader is on, when it is one a recipe record has.</summary>
    private void ReadField(ref Utf8JsonReader json, ref Fields fields)
    {
        if (json.ValueTextEquals("id"u8) || json.ValueTextEquals("custom_id"u8))
        {
            json.Read();
            fields.Id = json.TokenType switch
            {
                JsonTokenType.String => json.GetString(),
                JsonTokenType.Number => Encoding.UTF8.GetString(json.ValueSpan),
                _ => null, // an object or array is no id
            };
        }
        else if (json.ValueTextEquals("text"u8) || json.ValueTextEquals("image"u8))
        {
            var isText = json.ValueTextEquals("text"u8);
            json.Read();
            var value = json.TokenType == JsonTokenType.String ? json.GetString() : null;
            fields.Error ??= value is not null ? null : isText ? "\"text\" must be a string." : "\"image\" must be a base64 string.";
            if (isText)
            {
                fields.Text = value;
            }
            else
            {
                fields.Image = value;
            }
        }
        else
        {
            var tensors = json.ValueTextEquals("inputs"u8) || json.ValueTextEquals("features"u8) || json.ValueTextEquals("input"u8);
            fields.Error ??= tensors ? $"Model '{model.Name}' takes {Takes()} records (its recipe is {runner.Recipe.Kind}), not tensors." : null;
            json.Read();
        }
    }

    private struct Fields
    {
        public string? Id;
        public string? Text;
        public string? Image;
        public string? Error;
    }

    /// <summary>A record from its text or image (exactly one given), or its reason.</summary>
    public BulkRecord Record(long lineNumber, string id, string? text, string? image)
    {
        if ((text is null) == (image is null))
        {
            return new BulkRecord(lineNumber, id, text is null
                ? $"The record has no \"{Takes()}\"; model '{model.Name}' takes {Takes()} records (its recipe is {runner.Recipe.Kind})."
                : "Give either \"text\" or \"image\", not both.");
        }

        return text is not null ? Text(lineNumber, id, text) : Image(lineNumber, id, image!);
    }

    private BulkRecord Text(long lineNumber, string id, string text)
    {
        if (runner is not TextRunner textRunner)
        {
            return new BulkRecord(lineNumber, id, $"Model '{model.Name}' takes an image (its recipe is {runner.Recipe.Kind}), not text.");
        }

        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > limits.MaxStringBytes)
        {
            return new BulkRecord(lineNumber, id, $"The text is {bytes} bytes (UTF-8); at most {limits.MaxStringBytes} are accepted.");
        }

        var (ids, truncated, error) = textRunner.Encode(text);
        return error is not null ? new BulkRecord(lineNumber, id, error) : new BulkRecord(lineNumber, id, null, Recipe: new RecipeInput(ids, truncated, null));
    }

    private BulkRecord Image(long lineNumber, string id, string base64)
    {
        if (runner is TextRunner)
        {
            return new BulkRecord(lineNumber, id, $"Model '{model.Name}' takes text (its recipe is {runner.Recipe.Kind}), not an image.");
        }

        // As a job's image: a data URL's "data:image/...;base64," prefix is allowed.
        var text = base64.AsSpan().Trim();
        if (text.StartsWith("data:", StringComparison.Ordinal) && text.IndexOf(',') is var comma and > 0)
        {
            text = text[(comma + 1)..];
        }

        var bytes = new byte[text.Length / 4 * 3 + 3];
        return !Convert.TryFromBase64Chars(text, bytes, out var written)
            ? new BulkRecord(lineNumber, id, "\"image\" is not valid base64.")
            : new BulkRecord(lineNumber, id, null, Recipe: new RecipeInput(null, false, bytes[..written]));
    }

    private string Takes() => runner is TextRunner ? "text" : "image";
}
