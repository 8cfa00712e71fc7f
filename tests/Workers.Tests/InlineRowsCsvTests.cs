using System.Text;
using AIaaS.Queue.Workers.Training;
using nietras.SeparatedValues;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The CSV file a worker writes for the training child from inline rows.</summary>
public sealed class InlineRowsCsvTests
{
    private static readonly string[] Columns = ["x", "label, \"quoted\""];
    private static readonly string?[][] Rows = [["1", "say \"hi\""], ["2.5", "two\nlines"], ["3", null], ["4", "cr\r\nlf, and \"all\""]];

    [Fact]
    public void QuotesOnlyValuesWithACommaAQuoteOrALineBreakAndWritesNullAsEmpty()
    {
        var text = Write();

        // Byte for byte what the hand-written writer before it produced, so that the fingerprints of inline datasets stay.
        Assert.Equal("x,\"label, \"\"quoted\"\"\"\n1,\"say \"\"hi\"\"\"\n2.5,\"two\nlines\"\n3,\n4,\"cr\r\nlf, and \"\"all\"\"\"\n", text);
    }

    [Fact]
    public void WhatIsWrittenReadsBackAsTheSameTable()
    {
        using var reader = Sep.New(',').Reader(o => o with { HasHeader = false, Unescape = true }).FromText(Write());
        var table = new List<string[]>();
        foreach (var row in reader)
        {
            table.Add(row[..].ToStringsArray());
        }

        Assert.Equal([Columns, .. Rows.Select(r => r.Select(v => v ?? "").ToArray())], table);
    }

    private static string Write()
    {
        using var file = new MemoryStream();
        InlineRowsCsv.Write(file, Columns, Rows);
        return Encoding.UTF8.GetString(file.ToArray());
    }
}
