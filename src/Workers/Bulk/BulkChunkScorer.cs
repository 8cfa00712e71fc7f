using System.Buffers;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Explanations;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Recipes;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Scores one chunk in model calls of up to <c>batchSize</c> rows and writes its lines in file order: per scored record
/// <c>{"id": .., "outputs": {"name": [..]}}</c> for float records (each output's values flattened, row-major) or
/// <c>{"id": .., "outputs": [{"name", "datatype", "shape", "data"}]}</c> for tensor and recipe records (a recipe's
/// answers: embedding, labels and scores ...), written straight from the typed outputs, per failed record
/// <c>{"id": .., "line": .., "error": ..}</c>. Tensor records batch as predict jobs do (equal shapes, or padded), sorted by
/// length first: offline, nothing waits, so a chunk pads as little as its records allow. Should a model call fail, its
/// records run one by one, so that one bad record fails alone. A job that asked for explanations gets each float record's
/// attributions in its line (<c>"explanation": {..}</c>), all records of the chunk explained in one stream of model calls.
/// </summary>
internal static class BulkChunkScorer
{
    // Output files are data, never HTML: quotes and apostrophes in reasons and ids stay readable.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        SkipValidation = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // timed: told how long preparing the records, the model calls and writing the lines took (the benchmark's bulk profile).
    public static BulkChunkResult Score(LoadedModel model, BulkChunk.Contents chunk, int batchSize, InputLimits limits,
        ModelExplainer? explainer = null, Action<string, TimeSpan>? timed = null)
    {
        var stage = System.Diagnostics.Stopwatch.GetTimestamp();
        var records = chunk.Records;
        var outcomes = new RecordOutcome[records.Count];
        var requests = new List<(int Index, PreparedRequest Request)>(records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            var (request, error) = records[i].Error is { } invalid ? (null, invalid) : Prepare(model, chunk, records[i], limits);
            if (error is not null)
            {
                outcomes[i] = new RecordOutcome(null, error);
            }
            else
            {
                requests.Add((i, request!));
            }
        }

        timed?.Invoke("bulk.prepare_records", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        stage = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var batch in Batches(model, requests, batchSize))
        {
            var (results, _) = IsolatedRun.Run(model, batch.ConvertAll(r => r.Request), "record");
            for (var b = 0; b < batch.Count; b++)
            {
                outcomes[batch[b].Index] = results[b];
            }
        }

        timed?.Invoke("bulk.model_calls", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        var explanations = explainer is null ? null : Explain(explainer, chunk, outcomes);
        stage = System.Diagnostics.Stopwatch.GetTimestamp();
        var written = Write(records, outcomes, explanations, byName: chunk.ValuesPerRecord >= 0);
        timed?.Invoke("bulk.write_lines", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        return written;
    }

    /// <summary>The explanations of the chunk's scored float records (null for the others); should explaining fail, those
    /// records fail with the reason, since their lines would not carry what the job asked for.</summary>
    private static Explanation?[] Explain(ModelExplainer explainer, BulkChunk.Contents chunk, RecordOutcome[] outcomes)
    {
        var explained = new Explanation?[outcomes.Length];
        var scored = Enumerable.Range(0, outcomes.Length).Where(i => outcomes[i].Error is null).ToArray();
        if (chunk.ValuesPerRecord < 0 || scored.Length == 0)
        {
            return explained;
        }

        var width = chunk.ValuesPerRecord;
        var vectors = Array.ConvertAll(scored, i => chunk.Values.AsSpan(chunk.Records[i].ValueIndex * width, width).ToArray());
        try
        {
            var explanations = explainer.Explain(vectors);
            for (var s = 0; s < scored.Length; s++)
            {
                explained[scored[s]] = explanations[s];
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            foreach (var i in scored)
            {
                outcomes[i] = new RecordOutcome(null, $"The record was scored but could not be explained: {ex.Message}");
            }
        }

        return explained;
    }

    /// <summary>The chunk's output and error lines, in file order.</summary>
    private static BulkChunkResult Write(IReadOnlyList<BulkChunk.Entry> records, RecordOutcome[] outcomes, Explanation?[]? explanations, bool byName)
    {
        using var output = new JsonLines(64 * 1024);
        using var errors = new JsonLines(1024);
        var succeeded = 0;
        for (var i = 0; i < records.Count; i++)
        {
            if (outcomes[i].Error is { } reason)
            {
                WriteError(errors, records[i].Id, records[i].Line, reason);
                continue;
            }

            WriteOutput(output, records[i].Id, outcomes[i].Outputs!, explanations?[i], byName);
            succeeded++;
        }

        return new BulkChunkResult { Succeeded = succeeded, Failed = records.Count - succeeded, Output = output.Written, Errors = errors.Written };
    }

    /// <summary>One scorable record as a request: float values as they are, tensor records read from their JSON, recipe
    /// records from their token ids or image.</summary>
    private static (PreparedRequest?, string?) Prepare(LoadedModel model, BulkChunk.Contents chunk, BulkChunk.Entry record, InputLimits limits)
    {
        if (record.Recipe is { } recipe)
        {
            return RecipeRecord(model, recipe, limits);
        }

        if (chunk.ValuesPerRecord >= 0)
        {
            return (RequestPreparer.FromFloatRecord(model, chunk.Values.AsSpan(record.ValueIndex * chunk.ValuesPerRecord, chunk.ValuesPerRecord)), null);
        }

        var tensors = JsonSerializer.Deserialize<BulkTensorRecord>(record.Tensors!, WireJson.Options)!;
        var job = new SubmitPredictJob { JobId = Guid.Empty, Model = model.Name, SubmittedAt = default, Inputs = tensors.Inputs, Outputs = tensors.Outputs };
        return RequestPreparer.Prepare(model, job, limits);
    }

    private static (PreparedRequest?, string?) RecipeRecord(LoadedModel model, RecipeInput recipe, InputLimits limits) => model.Recipe switch
    {
        TextRunner text when recipe.Ids is { } ids => (text.Prepare(ids, recipe.Truncated), null),
        ImageClassificationRunner image when recipe.Image is { } bytes => image.SizeProblem(limits) is { } problem ? (null, problem) : image.Prepare(bytes),
        _ => (null, $"Model '{model.Name}' v{model.Version} cannot take this record: its recipe is {model.Recipe?.Recipe.Kind ?? "gone"}."),
    };

    /// <summary>Model calls for a chunk: requests of one shape group together, in length order for padded models, up to
    /// <paramref name="batchSize"/> rows each (one request per call for models without a dynamic batch dimension).</summary>
    private static IEnumerable<List<(int Index, PreparedRequest Request)>> Batches(
        LoadedModel model, List<(int Index, PreparedRequest Request)> requests, int batchSize)
    {
        var rowsPerCall = model.BatchMode == BatchMode.Dynamic ? batchSize : 1;
        foreach (var group in requests.GroupBy(r => r.Request.GroupKey))
        {
            var batch = new List<(int, PreparedRequest)>();
            var rows = 0;
            foreach (var request in model.IsPadded ? group.OrderBy(r => r.Request.Length) : (IEnumerable<(int Index, PreparedRequest Request)>)group)
            {
                if (batch.Count > 0 && rows + request.Request.Rows > rowsPerCall)
                {
                    yield return batch;
                    batch = [];
                    rows = 0;
                }

                batch.Add(request);
                rows += request.Request.Rows;
            }

            if (batch.Count > 0)
            {
                yield return batch;
            }
        }
    }

    /// <summary>Every record of a chunk failed for one reason (its model could not be loaded, say).</summary>
    public static BulkChunkResult FailAll(BulkChunk.Contents chunk, string reason)
    {
        using var error = new JsonLines(1024);
        foreach (var record in chunk.Records)
        {
            WriteError(error, record.Id, record.Line, record.Error ?? reason);
        }

        return new BulkChunkResult { Succeeded = 0, Failed = chunk.Records.Count, Output = ReadOnlyMemory<byte>.Empty, Errors = error.Written };
    }

    /// <summary>One line per scored record: for float records each output's values flattened, row-major, by name; for
    /// tensor records the outputs in the protocol's form, with their datatype and shape.</summary>
    private static void WriteOutput(JsonLines lines, string id, NamedTensor[] outputs, Explanation? explanation, bool byName)
    {
        var writer = lines.Json;
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        if (byName)
        {
            writer.WriteStartObject("outputs"u8);
            foreach (var output in outputs)
            {
                writer.WritePropertyName(output.Name);
                output.Tensor.WriteData(writer);
            }

            writer.WriteEndObject();
        }
        else
        {
            writer.WriteStartArray("outputs"u8);
            foreach (var output in outputs)
            {
                output.Tensor.WriteTensor(writer, output.Name);
            }

            writer.WriteEndArray();
        }

        if (explanation is not null)
        {
            writer.WritePropertyName("explanation"u8);
            JsonSerializer.Serialize(writer, explanation, WireJson.Options);
        }

        writer.WriteEndObject();
        lines.EndLine();
    }

    private static void WriteError(JsonLines lines, string id, long line, string reason)
    {
        var writer = lines.Json;
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteNumber("line"u8, line);
        writer.WriteString("error"u8, reason);
        writer.WriteEndObject();
        lines.EndLine();
    }

    /// <summary>JSON lines into one growing buffer: a value, then '\n', then the next value.</summary>
    private sealed class JsonLines(int initialCapacity) : IDisposable
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(initialCapacity);
        private Utf8JsonWriter? _json;

        public Utf8JsonWriter Json => _json ??= new Utf8JsonWriter(_buffer, WriterOptions);

        public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

        public void EndLine()
        {
            Json.Flush();
            _buffer.GetSpan(1)[0] = (byte)'\n';
            _buffer.Advance(1);
            // The next line is a new top-level value.
            Json.Reset(_buffer);
        }

        public void Dispose() => _json?.Dispose();
    }
}
