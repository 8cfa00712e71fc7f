using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Cli;

/// <summary>Tensors from the command line: <c>--input name:DATATYPE:shape:data</c> and <c>--inputs-file request.json</c>.</summary>
internal static class TensorOptions
{
    /// <summary>One tensor from <c>name:DATATYPE:shape:data</c>: the shape's sizes <c>x</c>-separated (<c>1x3</c>), the data a
    /// JSON array, flat or nested (<c>[101,7592,102]</c>). The name may itself hold ':' (as in <c>input:0</c>).</summary>
    public static (InferTensor? Tensor, string? Problem) ParseInput(string text)
    {
        var problem = $"--input '{text}' is not name:DATATYPE:shape:data (for example input_ids:INT64:1x3:[101,7592,102]).";
        var dataStart = text.IndexOf(":[", StringComparison.Ordinal);
        if (dataStart < 0)
        {
            return (null, problem);
        }

        var head = text[..dataStart];
        var shapeStart = head.LastIndexOf(':');
        var typeStart = shapeStart < 0 ? -1 : head.LastIndexOf(':', shapeStart - 1);
        if (typeStart <= 0)
        {
            return (null, problem);
        }

        var datatype = head[(typeStart + 1)..shapeStart].ToUpperInvariant();
        if (!TensorDatatypes.All.Contains(datatype))
        {
            return (null, $"--input '{text}': '{datatype}' is not one of {string.Join(", ", TensorDatatypes.All)}.");
        }

        var sizes = head[(shapeStart + 1)..].Split('x');
        var shape = new long[sizes.Length];
        for (var i = 0; i < sizes.Length; i++)
        {
            if (!long.TryParse(sizes[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
            {
                return (null, $"--input '{text}': the shape is sizes separated by x (for example 1x3).");
            }
        }

        try
        {
            using var data = JsonDocument.Parse(text[(dataStart + 1)..]);
            return (new InferTensor { Name = head[..typeStart], Datatype = datatype, Shape = shape, Data = data.RootElement.Clone() }, null);
        }
        catch (JsonException ex)
        {
            return (null, $"--input '{text}': the data is not a JSON array: {ex.Message}");
        }
    }

    /// <summary>The inputs, and any requested outputs, of a JSON file: an Open Inference Protocol request (<c>{"inputs": [...],
    /// "outputs": [{"name": ...}]}</c>; <c>id</c> and <c>parameters</c> are ignored) or just the list of input tensors.</summary>
    public static async Task<(IReadOnlyList<InferTensor>? Inputs, IReadOnlyList<string>? Outputs, string? Problem)> ReadFileAsync(
        FileInfo file, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = file.OpenRead();
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind == JsonValueKind.Array)
            {
                return (document.RootElement.Deserialize<List<InferTensor>>(WireJson.Options), null, null);
            }

            var request = document.RootElement.Deserialize<InputsFile>(WireJson.Options);
            return request?.Inputs is { Count: > 0 } inputs
                ? (inputs, request.Outputs?.Select(o => o.Name).ToArray(), null)
                : (null, null, $"{file.Name} has no inputs: give {{\"inputs\": [{{\"name\", \"datatype\", \"shape\", \"data\"}}]}}.");
        }
        catch (JsonException ex)
        {
            return (null, null, $"{file.Name} is not a request in JSON: {ex.Message}");
        }
    }

    private sealed record InputsFile
    {
        [JsonConverter(typeof(InferInputsJsonConverter))]
        public IReadOnlyList<InferTensor>? Inputs { get; init; }

        public IReadOnlyList<RequestedOutput>? Outputs { get; init; }
    }
}
