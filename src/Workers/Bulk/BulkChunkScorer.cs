using System.Buffers;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Scores one chunk in model calls of up to <c>batchSize</c> records and writes its lines: per scored record
/// <c>{"id": .., "outputs": {"name": [..]}}</c> (each output's values flattened, row-major), per failed record
/// <c>{"id": .., "line": .., "error": ..}</c>. Should a model call fail, its records run one by one, so that one bad
/// record fails alone.
/// </summary>
internal static class BulkChunkScorer
{
    // Output files are data, never HTML: quotes and apostrophes in reasons and ids stay readable.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        SkipValidation = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static BulkChunkResult Score(LoadedModel model, BulkChunk.Contents chunk, int batchSize)
    {
        using var output = new JsonLines(64 * 1024);
        using var error = new JsonLines(1024);
        var scorable = chunk.Records.Where(r => r.Error is null).ToArray();
        var succeeded = 0;
        var failed = 0;
        var next = 0; // the next record, in file order, whose line is still to be written
        for (var start = 0; start < scorable.Length; start += batchSize)
        {
            var count = Math.Min(batchSize, scorable.Length - start);
            var results = RunIsolating(model, chunk, start, count);
            for (var i = 0; i < count; i++)
            {
                // Error lines for the failed records before this one keep the error file in input order.
                var record = scorable[start + i];
                while (chunk.Records[next].Line != record.Line)
                {
                    WriteError(error, chunk.Records[next].Id, chunk.Records[next].Line, chunk.Records[next].Error!);
                    failed++;
                    next++;
                }

                next++;
                if (results[i].Error is { } reason)
                {
                    WriteError(error, record.Id, record.Line, reason);
                    failed++;
                    continue;
                }

                WriteOutput(output, record.Id, results[i].Outputs!);
                succeeded++;
            }
        }

        for (; next < chunk.Records.Count; next++)
        {
            WriteError(error, chunk.Records[next].Id, chunk.Records[next].Line, chunk.Records[next].Error!);
            failed++;
        }

        return new BulkChunkResult { Succeeded = succeeded, Failed = failed, Output = output.Written, Errors = error.Written };
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

    /// <summary>Per record of the slice: its outputs, or its error.</summary>
    private static (InferTensor[]? Outputs, string? Error)[] RunIsolating(LoadedModel model, BulkChunk.Contents chunk, int start, int count)
    {
        var results = new (InferTensor[]?, string?)[count];
        var requests = new PreparedRequest[count];
        for (var i = 0; i < count; i++)
        {
            requests[i] = RequestPreparer.FromFloatRecord(model, chunk.Values.AsSpan((start + i) * chunk.ValuesPerRecord, chunk.ValuesPerRecord));
        }

        try
        {
            var (outputs, _) = model.Run(requests);
            for (var i = 0; i < count; i++)
            {
                results[i] = (outputs[i], null);
            }

            return results;
        }
        catch (Exception ex) when (count > 1 && ex is not OutOfMemoryException)
        {
            // Fall through to one record per call.
        }

        for (var i = 0; i < count; i++)
        {
            try
            {
                results[i] = (model.Run([requests[i]]).Outputs[0], null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                results[i] = (null, $"Model '{model.Name}' v{model.Version} failed on this record: {ex.Message}");
            }
        }

        return results;
    }

    /// <summary>One line per scored record: each output's values flattened, row-major, as the model wrote them.</summary>
    private static void WriteOutput(JsonLines lines, string id, InferTensor[] outputs)
    {
        var writer = lines.Json;
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
        writer.WriteStartObject("outputs"u8);
        foreach (var output in outputs)
        {
            writer.WritePropertyName(output.Name);
            output.Data.WriteTo(writer);
        }

        writer.WriteEndObject();
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
