using System.Runtime.InteropServices;
using System.Text;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// A chunk of bulk records as stored between the worker that splits the file and the one that scores it: the records
/// already parsed and checked, so that scoring reads floats rather than text. Records that failed the check travel too,
/// with their reason, so that the chunk's error lines keep the file's order. Layout (little-endian): format version,
/// values per record, record count, then per record its line number, id, and either its values or its error. Tensor
/// records (<see cref="TensorRecords"/> values per record) carry their JSON in place of values; recipe records
/// (<see cref="RecipeRecords"/>) their token ids (tokenized once, when the file is split) or their image's bytes.
/// </summary>
internal static class BulkChunk
{
    private const int FormatVersion = 1;

    /// <summary>"Values per record" of a chunk of tensor records: each record is its inputs' JSON, read when scored.</summary>
    public const int TensorRecords = -1;

    /// <summary>"Values per record" of a chunk of records for a model's recipe: text as its token ids, or an image.</summary>
    public const int RecipeRecords = -2;

    /// <summary>What a chunk of <paramref name="model"/>'s records holds per record: <see cref="RecipeRecords"/> for a version
    /// with a recipe, <see cref="TensorRecords"/> for inputs that are not FP32 of fixed shape, else the float values.</summary>
    public static int ValuesPerRecordFor(Inference.LoadedModel model) =>
        model.Recipe is not null ? RecipeRecords
        : model.Inputs.Any(i => i.RecordLength < 0) ? TensorRecords
        : model.Inputs.Sum(i => i.RecordLength);

    /// <summary>Builds one chunk's payload record by record.</summary>
    internal sealed class Writer : IDisposable
    {
        private readonly MemoryStream _buffer = new();
        private readonly BinaryWriter _writer;
        private readonly int _valuesPerRecord;

        public Writer(int valuesPerRecord)
        {
            _valuesPerRecord = valuesPerRecord;
            _writer = new BinaryWriter(_buffer, Encoding.UTF8, leaveOpen: true);
            Reset();
        }

        public int Count { get; private set; }
        public long Bytes => _buffer.Length;

        public void Add(BulkRecord record, ReadOnlySpan<float> values)
        {
            _writer.Write(record.Line);
            _writer.Write(record.Id ?? "");
            _writer.Write(record.Error is null);
            if (record.Error is null && _valuesPerRecord == TensorRecords)
            {
                _writer.Write(record.Tensors!);
            }
            else if (record.Error is null && _valuesPerRecord == RecipeRecords)
            {
                WriteRecipe(record.Recipe!);
            }
            else if (record.Error is null)
            {
                _writer.Write(MemoryMarshal.AsBytes(values[.._valuesPerRecord]));
            }
            else
            {
                _writer.Write(record.Error);
            }

            Count++;
        }

        private void WriteRecipe(RecipeInput input)
        {
            var bytes = input.Image ?? MemoryMarshal.AsBytes(input.Ids.AsSpan()).ToArray();
            _writer.Write(input.Image is null);
            _writer.Write(input.Truncated);
            _writer.Write(bytes.Length);
            _writer.Write(bytes);
        }

        /// <summary>The payload so far, with its record count; valid until <see cref="Reset"/>.</summary>
        public ReadOnlyMemory<byte> ToPayload()
        {
            _writer.Flush();
            var payload = _buffer.GetBuffer().AsMemory(0, (int)_buffer.Length);
            BitConverter.TryWriteBytes(payload.Span.Slice(8, 4), Count);
            return payload;
        }

        public void Reset()
        {
            _buffer.SetLength(0);
            _writer.Write(FormatVersion);
            _writer.Write(_valuesPerRecord);
            _writer.Write(0); // the record count, filled in by ToPayload
            Count = 0;
        }

        public void Dispose()
        {
            _writer.Dispose();
            _buffer.Dispose();
        }
    }

    /// <summary>A chunk read back: the scorable records' values back to back, and every record in file order.</summary>
    internal sealed record Contents(int ValuesPerRecord, float[] Values, IReadOnlyList<Entry> Records);

    /// <summary>One record of a chunk: its line and id, and either the index of its values (in scorable order) or its error;
    /// a tensor record has its JSON in <paramref name="Tensors"/>, a recipe record its input in <paramref name="Recipe"/>.</summary>
    internal readonly record struct Entry(long Line, string Id, int ValueIndex, string? Error, string? Tensors = null, RecipeInput? Recipe = null);

    /// <summary>The values per record a payload was written with (for reading it without its model).</summary>
    public static int ValuesPerRecordOf(byte[] payload) => BitConverter.ToInt32(payload, 4);

    public static Contents Read(byte[] payload, int expectedValuesPerRecord)
    {
        using var reader = new BinaryReader(new MemoryStream(payload, writable: false), Encoding.UTF8);
        var version = reader.ReadInt32();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Bulk chunk format {version} is not understood by this worker (it reads format {FormatVersion}).");
        }

        var valuesPerRecord = reader.ReadInt32();
        if (valuesPerRecord != expectedValuesPerRecord)
        {
            throw new InvalidDataException(
                $"The chunk holds {valuesPerRecord} values per record; the model takes {expectedValuesPerRecord}.");
        }

        var count = reader.ReadInt32();
        var records = new Entry[count];
        if (valuesPerRecord == TensorRecords)
        {
            for (var i = 0; i < count; i++)
            {
                var (line, id) = (reader.ReadInt64(), reader.ReadString());
                records[i] = reader.ReadBoolean() ? new Entry(line, id, i, null, reader.ReadString()) : new Entry(line, id, -1, reader.ReadString());
            }

            return new Contents(valuesPerRecord, [], records);
        }

        if (valuesPerRecord == RecipeRecords)
        {
            for (var i = 0; i < count; i++)
            {
                var (line, id) = (reader.ReadInt64(), reader.ReadString());
                records[i] = reader.ReadBoolean() ? new Entry(line, id, i, null, null, ReadRecipe(reader)) : new Entry(line, id, -1, reader.ReadString());
            }

            return new Contents(valuesPerRecord, [], records);
        }

        var values = new float[count * valuesPerRecord];
        var scorable = 0;
        for (var i = 0; i < count; i++)
        {
            var line = reader.ReadInt64();
            var id = reader.ReadString();
            if (reader.ReadBoolean())
            {
                reader.Read(MemoryMarshal.AsBytes(values.AsSpan(scorable * valuesPerRecord, valuesPerRecord)));
                records[i] = new Entry(line, id, scorable++, null);
            }
            else
            {
                records[i] = new Entry(line, id, -1, reader.ReadString());
            }
        }

        if (scorable < count)
        {
            Array.Resize(ref values, scorable * valuesPerRecord);
        }

        return new Contents(valuesPerRecord, values, records);
    }

    private static RecipeInput ReadRecipe(BinaryReader reader)
    {
        var (text, truncated, length) = (reader.ReadBoolean(), reader.ReadBoolean(), reader.ReadInt32());
        var bytes = reader.ReadBytes(length);
        return text ? new RecipeInput(MemoryMarshal.Cast<byte, int>(bytes).ToArray(), truncated, null) : new RecipeInput(null, false, bytes);
    }
}

/// <summary>A bulk record for a model's recipe: its text's token ids (and whether they were cut), or its image's bytes.</summary>
internal sealed record RecipeInput(int[]? Ids, bool Truncated, byte[]? Image);
