using System.Text;
using nietras.SeparatedValues;

namespace AIaaS.Queue.Workers.Training;

/// <summary>Inline training rows as the CSV file the training child reads: a header line, then one record per row, written
/// by Sep (RFC 4180: a value with a comma, a quote or a line break is quoted, its quotes doubled; null is empty).</summary>
internal static class InlineRowsCsv
{
    public static void Write(Stream destination, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string?>> rows)
    {
        using var text = new StreamWriter(destination, new UTF8Encoding(false), bufferSize: 1 << 16, leaveOpen: true);
        using var writer = Sep.New(',').Writer(o => o with { WriteHeader = false, Escape = true }).To(text);
        WriteRow(writer, columns);
        foreach (var row in rows)
        {
            WriteRow(writer, row);
        }
    }

    private static void WriteRow(SepWriter writer, IReadOnlyList<string?> values)
    {
        using var row = writer.NewRow();
        for (var c = 0; c < values.Count; c++)
        {
            row[c].Set(values[c]);
        }
    }
}
