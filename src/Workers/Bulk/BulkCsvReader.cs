using System.Globalization;
using System.Text;
using nietras.SeparatedValues;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// The records of a CSV bulk file, parsed by Sep (RFC 4180: a quoted field may hold commas, doubled quotes and line
/// breaks, so a record may span lines). The header names the columns: at most one <c>id</c>, every other column one input
/// value, in the model's input order. A blank line after the header is a failed record (counted, and listed in the error
/// file), so that totals add up; spaces around a field are not part of it. A record is
/// known by its id or, without one, by the line it starts on.
/// </summary>
internal sealed class BulkCsvReader : IDisposable
{
    private static readonly SepReaderOptions Options = Sep.New(',').Reader(o => o with
    {
        HasHeader = false, // read below, so that blank lines before it are skipped and its errors are ours
        DisableColCountCheck = true, // a row with the wrong count fails alone
        Unescape = true,
        Trim = SepTrim.Outer,
    });

    private readonly SepReader _reader;
    private readonly int[] _columns; // per CSV column: -1 for the id, else the index of the value it fills
    private readonly int _idColumn;
    private readonly int _textColumn = -1;
    private readonly Func<long, string, string?, string?, BulkRecord>? _textRecord;

    private BulkCsvReader(SepReader reader, int[] columns)
    {
        _reader = reader;
        _columns = columns;
        _idColumn = Array.IndexOf(columns, -1);
    }

    private BulkCsvReader(SepReader reader, int idColumn, int textColumn, Func<long, string, string?, string?, BulkRecord> textRecord)
    {
        _reader = reader;
        _columns = [];
        _idColumn = idColumn;
        _textColumn = textColumn;
        _textRecord = textRecord;
    }

    /// <summary>Text records for a version with a text recipe: the header names a <c>text</c> column and at most one
    /// <c>id</c>; other columns are the client's own and ignored. <paramref name="textRecord"/> (line, id, text, image)
    /// makes each record. Takes the stream.</summary>
    public static BulkCsvReader OpenText(Stream file, string modelName, Func<long, string, string?, string?, BulkRecord> textRecord)
    {
        SepReader? reader = null;
        try
        {
            reader = Options.From(new StreamReader(file, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16));
            var header = ReadHeader(reader);
            var text = Array.FindIndex(header, h => h.Equals("text", StringComparison.OrdinalIgnoreCase));
            if (text < 0 || header.Count(h => h.Equals("id", StringComparison.OrdinalIgnoreCase)) > 1)
            {
                throw new InvalidBulkFileException(
                    $"The CSV header has columns {Abbreviate(header)}; model '{modelName}' takes text, so the file needs a 'text' column, plus at most one 'id' column.");
            }

            return new BulkCsvReader(reader, Array.FindIndex(header, h => h.Equals("id", StringComparison.OrdinalIgnoreCase)), text, textRecord);
        }
        catch (Exception ex)
        {
            reader?.Dispose();
            file.Dispose();
            if (ex is NotSupportedException unsupported)
            {
                throw TooLong(unsupported);
            }

            throw;
        }
    }

    /// <summary>Reads the header and checks it against the model's <paramref name="valuesPerRecord"/>; takes the stream.</summary>
    public static BulkCsvReader Open(Stream file, int valuesPerRecord, string modelName)
    {
        SepReader? reader = null;
        try
        {
            reader = Options.From(new StreamReader(file, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16));
            var header = ReadHeader(reader);
            var idColumns = header.Count(h => h.Equals("id", StringComparison.OrdinalIgnoreCase));
            if (header.Length - idColumns != valuesPerRecord || idColumns > 1)
            {
                throw new InvalidBulkFileException(
                    $"The CSV header has {header.Length} columns ({Abbreviate(header)}); model '{modelName}' takes {valuesPerRecord} values per record, " +
                    "so the file needs that many value columns, plus at most one 'id' column.");
            }

            var columns = new int[header.Length];
            var next = 0;
            for (var c = 0; c < header.Length; c++)
            {
                columns[c] = header[c].Equals("id", StringComparison.OrdinalIgnoreCase) ? -1 : next++;
            }

            return new BulkCsvReader(reader, columns);
        }
        catch (Exception ex)
        {
            reader?.Dispose();
            file.Dispose();
            if (ex is NotSupportedException unsupported)
            {
                throw TooLong(unsupported);
            }

            throw;
        }
    }

    /// <summary>The next record, or false at the end of the file.</summary>
    public bool TryRead(float[] values, out BulkRecord record)
    {
        if (MoveNext(_reader))
        {
            record = IsBlank(_reader.Current)
                ? new BulkRecord(_reader.Current.LineNumberFrom, LineId(_reader.Current.LineNumberFrom), BulkRecordReader.BlankLine)
                : Parse(_reader.Current, values);
            return true;
        }

        record = default;
        return false;
    }

    private BulkRecord Parse(SepReader.Row row, float[] values)
    {
        var line = row.LineNumberFrom;
        var id = _idColumn >= 0 && _idColumn < row.ColCount ? Text(row[_idColumn]) : null;
        var known = string.IsNullOrEmpty(id) ? LineId(line) : id;
        if (_textRecord is not null)
        {
            return _textColumn < row.ColCount ? _textRecord(line, known, row[_textColumn].ToString(), null)
                : new BulkRecord(line, known, $"The row has {row.ColCount} columns; its text is in column {_textColumn + 1}.");
        }
        var count = Math.Min(row.ColCount, _columns.Length);
        for (var c = 0; c < count; c++)
        {
            var target = _columns[c];
            if (target < 0)
            {
                continue;
            }

            var text = row[c].Span.Trim(" \t");
            if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return new BulkRecord(line, known, $"Column {c + 1} has '{text}', which is not a number; every value must be a finite number.");
            }

            if (!float.IsFinite(value))
            {
                return new BulkRecord(line, known,
                    string.Create(CultureInfo.InvariantCulture, $"Column {c + 1} has a non-finite value ({value}); every value must be a finite number."));
            }

            values[target] = value;
        }

        return row.ColCount > _columns.Length ? new BulkRecord(line, known, $"The row has more than the header's {_columns.Length} columns.")
            : row.ColCount < _columns.Length ? new BulkRecord(line, known, $"The row has {row.ColCount} columns; the header has {_columns.Length}.")
            : new BulkRecord(line, known, null);
    }

    private static string[] ReadHeader(SepReader reader)
    {
        while (MoveNext(reader))
        {
            if (!IsBlank(reader.Current))
            {
                var header = new string[reader.Current.ColCount];
                for (var c = 0; c < header.Length; c++)
                {
                    header[c] = Text(reader.Current[c]);
                }

                return header;
            }
        }

        throw new InvalidBulkFileException("The CSV file has no header line.");
    }

    /// <summary>A record may span lines, so a quote left open would make the rest of the file one record: Sep refuses one
    /// longer than its limit (16 Mi characters) rather than hold it, and so does the file.</summary>
    private static bool MoveNext(SepReader reader)
    {
        try
        {
            return reader.MoveNext();
        }
        catch (NotSupportedException ex)
        {
            throw TooLong(ex);
        }
    }

    private static InvalidBulkFileException TooLong(NotSupportedException ex) =>
        new($"A record is too long to read; is a quote left open? ({ex.Message})");

    private static string Text(SepReader.Col col) => col.Span.Trim(" \t").ToString();

    private static bool IsBlank(SepReader.Row row) => row.Span.Trim(" \t\r\n").IsEmpty;

    /// <summary>Without an id column a CSV record is known by its line number.</summary>
    private static string LineId(int lineNumber) => lineNumber.ToString(CultureInfo.InvariantCulture);

    private static string Abbreviate(string[] header) =>
        header.Length <= 6 ? string.Join(", ", header) : $"{string.Join(", ", header.Take(5))}, …";

    public void Dispose() => _reader.Dispose();
}
