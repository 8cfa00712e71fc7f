using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Reads the records of a bulk input file one at a time, so that no side ever holds the whole file: JSON lines
/// (<c>{"id": "r1", "features": [..]}</c>, or <c>"inputs": {"name": [..]}</c> for a model with several inputs, or
/// <c>"inputs": [{"name", "datatype", "shape", "data"}]</c> in the Open Inference Protocol's form) or CSV with a header
/// (<see cref="BulkCsvReader"/>). A model whose inputs are all FP32 of fixed shape takes float records (any of these
/// forms); any other model takes tensor records (JSON lines in the protocol's form, optionally with <c>"outputs"</c>),
/// which travel as their JSON and are checked here as a predict job's would be. A version with a recipe takes text or
/// image records (<see cref="BulkRecipeRecords"/>).
/// Gzip is detected from the content. A bad record becomes a record with an error, and the file goes on; only a file
/// that cannot be read at all (an unusable CSV header, say) throws <see cref="InvalidBulkFileException"/>.
/// </summary>
internal sealed class BulkRecordReader : IDisposable
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private readonly LineReader _lines;
    private readonly IReadOnlyList<ModelInput> _inputs;
    private readonly int _valuesPerRecord;
    private readonly string _modelName;
    private readonly LoadedModel _model;
    private readonly InputLimits _limits;
    private readonly BulkFileLimits _fileLimits;
    private readonly BulkRecipeRecords? _recipe;
    private BulkCsvReader? _csv;
    private long _records;

    private BulkRecordReader(LineReader lines, BulkInputFormat format, LoadedModel model, InputLimits limits, BulkFileLimits fileLimits)
    {
        _fileLimits = fileLimits;
        _lines = lines;
        Format = format;
        _model = model;
        _limits = limits;
        _inputs = model.Inputs;
        _modelName = model.Name;
        _valuesPerRecord = BulkChunk.ValuesPerRecordFor(model);
        _recipe = model.Recipe is { } runner ? new BulkRecipeRecords(model, runner, limits) : null;
    }

    public BulkInputFormat Format { get; }

    /// <summary>Values in one record: every model input's record, in the model's input order, back to back; or
    /// <see cref="BulkChunk.TensorRecords"/> for a model that takes tensor records, <see cref="BulkChunk.RecipeRecords"/> for a
    /// version with a recipe.</summary>
    public int ValuesPerRecord => _valuesPerRecord;

    private bool TensorMode => _valuesPerRecord == BulkChunk.TensorRecords;

    /// <summary>Opens a seekable file, un-gzipping it when it starts with the gzip magic bytes, and detects its format unless
    /// given. Reading past <paramref name="fileLimits"/> (bytes once decompressed, records) throws
    /// <see cref="InvalidBulkFileException"/> with the reason.</summary>
    public static BulkRecordReader Open(Stream file, BulkInputFormat? format, LoadedModel model, InputLimits? limits = null,
        BulkFileLimits? fileLimits = null)
    {
        var bounds = fileLimits ?? BulkFileLimits.Default;
        Span<byte> magic = stackalloc byte[2];
        var gzip = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
        file.Position = 0;
        var lines = new LineReader(new BoundedReadStream(gzip ? new GZipStream(file, CompressionMode.Decompress) : file, bounds));
        ReadOnlySpan<byte> head;
        try
        {
            head = lines.Peek();
        }
        catch
        {
            lines.Dispose();
            throw;
        }

        if (head.Trim(" \t\r\n"u8).IsEmpty || (head.StartsWith(Utf8Bom) && head[Utf8Bom.Length..].Trim(" \t\r\n"u8).IsEmpty))
        {
            lines.Dispose();
            throw new InvalidBulkFileException("The file has no records.");
        }

        var detected = format ?? Detect(head);
        var reader = new BulkRecordReader(lines, detected, model, limits ?? InputLimits.Default, bounds);
        if (detected == BulkInputFormat.Csv && model.Recipe is Recipes.ImageClassificationRunner)
        {
            reader.Dispose();
            throw new InvalidBulkFileException(
                $"CSV carries text; model '{model.Name}' takes images (its recipe is {model.Recipe.Recipe.Kind}). Give JSON lines: {{\"id\": .., \"image\": \"<base64>\"}}.");
        }

        if (detected == BulkInputFormat.Csv && reader._recipe is { } recipe)
        {
            // CSV records may span lines: from here on the CSV reader reads the rest of the stream.
            reader._csv = BulkCsvReader.OpenText(lines.Remaining(), model.Name, recipe.Record);
            return reader;
        }

        if (detected == BulkInputFormat.Csv && reader.TensorMode)
        {
            reader.Dispose();
            var input = model.Inputs.First(i => i.RecordLength < 0);
            throw new InvalidBulkFileException(
                $"CSV carries records of float values; model '{model.Name}' input '{input.Name}' is {input.Datatype} of shape {input.ShapeText}. " +
                "Give JSON lines with \"inputs\" in the Open Inference Protocol's form: [{\"name\", \"datatype\", \"shape\", \"data\"}].");
        }

        if (detected == BulkInputFormat.Csv)
        {
            // CSV records may span lines: from here on the CSV reader reads the rest of the stream.
            reader._csv = BulkCsvReader.Open(lines.Remaining(), reader._valuesPerRecord, model.Name);
        }

        return reader;
    }

    /// <summary>The message of a blank line's failed record: a blank line is counted and listed in the error file, so that
    /// a file's lines and its totals add up.</summary>
    public const string BlankLine = "The line is blank; every line after the header holds one record.";

    /// <summary>The next record, or false at the end of the file. A blank line is a record that failed
    /// (<see cref="BlankLine"/>).</summary>
    public bool TryRead(float[] values, out BulkRecord record)
    {
        if (!TryReadUnbounded(values, out record))
        {
            return false;
        }

        return ++_records > _fileLimits.MaxRecords ? throw new InvalidBulkFileException(_fileLimits.RecordsPassed()) : true;
    }

    private bool TryReadUnbounded(float[] values, out BulkRecord record)
    {
        if (_csv is not null)
        {
            return _csv.TryRead(values, out record);
        }

        while (_lines.TryReadLine(out var line, out var lineNumber))
        {
            if (IsBlank(line))
            {
                record = new BulkRecord(lineNumber, null, BlankLine);
                return true;
            }

            record = _recipe is not null ? _recipe.ParseJson(line, lineNumber) : ParseJson(line, lineNumber, values);
            return true;
        }

        record = default;
        return false;
    }

    private BulkRecord ParseJson(ReadOnlySpan<byte> line, long lineNumber, float[] values)
    {
        string? id = null;
        string? error = null;
        var filled = false;
        List<InferTensor>? tensors = null;
        List<RequestedOutput>? outputs = null;
        try
        {
            var json = new Utf8JsonReader(line);
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
            {
                return new BulkRecord(lineNumber, null, "The line is not a JSON object.");
            }

            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                if (json.ValueTextEquals("id"u8) || json.ValueTextEquals("custom_id"u8))
                {
                    json.Read();
                    id = json.TokenType switch
                    {
                        JsonTokenType.String => json.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(json.ValueSpan),
                        _ => null,
                    };
                    json.Skip(); // an object or array is no id
                }
                else if (json.ValueTextEquals("inputs"u8) && PeekArray(json))
                {
                    json.Read();
                    tensors = JsonSerializer.Deserialize<List<InferTensor>>(ref json, WireJson.Options);
                    filled = true;
                }
                else if (json.ValueTextEquals("outputs"u8))
                {
                    json.Read();
                    outputs = JsonSerializer.Deserialize<List<RequestedOutput>>(ref json, WireJson.Options);
                }
                else if (TensorMode && (json.ValueTextEquals("features"u8) || json.ValueTextEquals("input"u8) || json.ValueTextEquals("inputs"u8)))
                {
                    json.Read();
                    json.Skip();
                    error ??= TensorFormProblem();
                    filled = true;
                }
                else if (json.ValueTextEquals("features"u8) || json.ValueTextEquals("input"u8))
                {
                    json.Read();
                    error ??= _inputs.Count == 1
                        ? ReadArray(ref json, _inputs[0], values, 0)
                        : $"Model '{_modelName}' has {_inputs.Count} inputs ({string.Join(", ", _inputs.Select(i => i.Name))}); give them by name in \"inputs\".";
                    json.Skip();
                    filled = true;
                }
                else if (json.ValueTextEquals("inputs"u8))
                {
                    json.Read();
                    error ??= ReadInputs(ref json, values);
                    json.Skip();
                    filled = true;
                }
                else
                {
                    json.Read();
                    json.Skip(); // other fields (metadata a client keeps with its records) are ignored
                }
            }
        }
        catch (JsonException ex)
        {
            return new BulkRecord(lineNumber, id, $"The line is not valid JSON: {ex.Message}");
        }

        if (id is null || id.Length == 0)
        {
            return new BulkRecord(lineNumber, null, "The record has no \"id\" (a string or number that identifies it in the output).");
        }

        if (error is null && tensors is not null)
        {
            return Tensors(lineNumber, id, tensors, outputs, values);
        }

        return error is not null ? new BulkRecord(lineNumber, id, error)
            : filled ? new BulkRecord(lineNumber, id, null)
            : new BulkRecord(lineNumber, id, TensorMode ? TensorFormProblem() : $"The record has no \"features\"; model '{_modelName}' takes {Describe(_inputs[0])}.");
    }

    /// <summary>A record in the protocol's form, checked exactly as a predict job's inputs are: kept as its JSON for a
    /// model that takes tensor records, else read into the float buffer (one row of each input).</summary>
    private BulkRecord Tensors(long lineNumber, string id, List<InferTensor> tensors, List<RequestedOutput>? outputs, float[] values)
    {
        var job = new SubmitPredictJob { JobId = Guid.Empty, Model = _modelName, SubmittedAt = default, Inputs = tensors, Outputs = outputs };
        var (request, error) = RequestPreparer.Prepare(_model, job, _limits);
        if (error is not null)
        {
            return new BulkRecord(lineNumber, id, error);
        }

        if (TensorMode)
        {
            return new BulkRecord(lineNumber, id, null, JsonSerializer.Serialize(new BulkTensorRecord(tensors, outputs), WireJson.Options));
        }

        if (request!.Rows != 1 || outputs is { Count: > 0 })
        {
            return new BulkRecord(lineNumber, id, "A bulk record of this model is one row (batch dimension 1) and gets every output.");
        }

        var offset = 0;
        foreach (var tensor in request.Inputs)
        {
            var floats = (float[])tensor.Values;
            floats.CopyTo(values, offset);
            offset += floats.Length;
        }

        return new BulkRecord(lineNumber, id, null);
    }

    private string TensorFormProblem() =>
        $"Model '{_modelName}' takes tensors ({string.Join(", ", _inputs.Select(i => $"{i.Name} {i.Datatype}{i.ShapeText}"))}): " +
        "give \"inputs\" in the Open Inference Protocol's form, [{\"name\", \"datatype\", \"shape\", \"data\"}].";

    private static bool PeekArray(Utf8JsonReader json) => json.Read() && json.TokenType == JsonTokenType.StartArray;

    private string? ReadInputs(ref Utf8JsonReader json, float[] values)
    {
        if (json.TokenType != JsonTokenType.StartObject)
        {
            return "\"inputs\" must be an object of arrays by input name.";
        }

        var seen = new bool[_inputs.Count];
        var depth = json.CurrentDepth;
        while (json.Read() && !(json.TokenType == JsonTokenType.EndObject && json.CurrentDepth == depth))
        {
            var name = json.GetString();
            var index = IndexOfInput(name);
            json.Read();
            if (index < 0)
            {
                return $"Model '{_modelName}' has no input '{name}'; its inputs are {string.Join(", ", _inputs.Select(i => i.Name))}.";
            }

            var error = ReadArray(ref json, _inputs[index], values, OffsetOf(index));
            if (error is not null)
            {
                return error;
            }

            json.Skip();
            seen[index] = true;
        }

        var missing = Array.IndexOf(seen, false);
        return missing < 0 ? null : $"Input '{_inputs[missing].Name}' is missing: it takes {Describe(_inputs[missing])}.";
    }

    /// <summary>Reads one input's array into <paramref name="values"/> at <paramref name="offset"/>; leaves the reader on
    /// the array's last token, or on the token that made it invalid, for the caller to skip.</summary>
    private static string? ReadArray(ref Utf8JsonReader json, ModelInput input, float[] values, int offset)
    {
        if (json.TokenType != JsonTokenType.StartArray)
        {
            return $"Input '{input.Name}' must be an array of numbers; it takes {Describe(input)}.";
        }

        var count = 0;
        while (json.Read() && json.TokenType != JsonTokenType.EndArray)
        {
            if (json.TokenType != JsonTokenType.Number || !json.TryGetSingle(out var value))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"Input '{input.Name}' has a value that is not a number at index {count}; every value must be a finite number.");
            }

            if (!float.IsFinite(value))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"Input '{input.Name}' has a non-finite value ({value}) at index {count}; every value must be a finite number.");
            }

            if (count < input.RecordLength)
            {
                values[offset + count] = value;
            }

            count++;
        }

        return count == input.RecordLength ? null : $"Input '{input.Name}' has {count} values; it takes {Describe(input)}.";
    }

    private int IndexOfInput(string? name)
    {
        for (var i = 0; i < _inputs.Count; i++)
        {
            if (_inputs[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }

    private int OffsetOf(int input)
    {
        var offset = 0;
        for (var i = 0; i < input; i++)
        {
            offset += _inputs[i].RecordLength;
        }

        return offset;
    }

    private static string Describe(ModelInput input) => $"{input.RecordLength} float values (model shape {input.ShapeText})";

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r"u8).IsEmpty;

    private static BulkInputFormat Detect(ReadOnlySpan<byte> head)
    {
        // The first character that is not white space (or a byte order mark) tells: '{' starts a JSON line, anything else a CSV header.
        var first = (head.StartsWith(Utf8Bom) ? head[Utf8Bom.Length..] : head).TrimStart(" \t\r\n"u8);
        return !first.IsEmpty && first[0] == (byte)'{' ? BulkInputFormat.JsonLines : BulkInputFormat.Csv;
    }

    public void Dispose()
    {
        _csv?.Dispose();
        _lines.Dispose();
    }
}

/// <summary>One record as read: its line number, its id, and the reason it cannot be scored (null when it can, with its
/// values in the buffer given to <see cref="BulkRecordReader.TryRead"/>, or for tensor records its JSON in
/// <paramref name="Tensors"/>, for recipe records its input in <paramref name="Recipe"/>).</summary>
internal readonly record struct BulkRecord(long Line, string? Id, string? Error, string? Tensors = null, RecipeInput? Recipe = null);

/// <summary>A tensor record as it travels in a chunk: a predict job's inputs and requested outputs.</summary>
internal sealed record BulkTensorRecord(IReadOnlyList<InferTensor> Inputs, IReadOnlyList<RequestedOutput>? Outputs);

/// <summary>The file as a whole cannot be used: the bulk job fails with this reason.</summary>
internal sealed class InvalidBulkFileException(string message) : Exception(message);
