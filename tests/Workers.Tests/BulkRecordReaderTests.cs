using System.IO.Compression;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Workers.Bulk;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime;
using nietras.SeparatedValues;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The bulk file reader on the formats users send: what each line becomes, and which files are refused whole.
/// It reads against a real ONNX Runtime session of a 4-input-value model.</summary>
public sealed class BulkRecordReaderTests : IDisposable
{
    private readonly LoadedModel _model = new("reader", 1, new InferenceSession(TestModels.Classifier().Onnx), "cpu", new BatchingSettings());

    public void Dispose() => _model.Dispose();

    private List<(BulkRecord Record, float[] Values)> ReadAll(byte[] file, BulkInputFormat? format = null)
    {
        using var reader = BulkRecordReader.Open(new MemoryStream(file), format, _model);
        var values = new float[reader.ValuesPerRecord];
        var records = new List<(BulkRecord, float[])>();
        while (reader.TryRead(values, out var record))
        {
            records.Add((record, record.Error is null ? (float[])values.Clone() : []));
        }

        return records;
    }

    [Fact]
    public void JsonLinesWithAByteOrderMarkWindowsLineEndsAndExtraFieldsAreReadAndABlankLineFailsAsARecord()
    {
        var file = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(
            "{\"id\":\"a\",\"features\":[1,2,3,4],\"meta\":{\"x\":[1,{}]}}\r\n\r\n" +
            "{\"custom_id\":42,\"input\":[5,6,7,8.5]}\r\n" +
            "{\"id\":\"c\",\"inputs\":{\"input\":[-1,-2,-3,-4]}}")).ToArray();

        var records = ReadAll(file);

        Assert.Equal(["a", null, "42", "c"], records.Select(r => r.Record.Id));
        Assert.Equal([1L, 2L, 3L, 4L], records.Select(r => r.Record.Line));
        Assert.Equal([null, BulkRecordReader.BlankLine, null, null], records.Select(r => r.Record.Error));
        Assert.Equal([5f, 6f, 7f, 8.5f], records[2].Values);
        Assert.Equal([-1f, -2f, -3f, -4f], records[3].Values);
    }

    [Theory]
    [InlineData("{\"id\":{\"nested\":1},\"features\":[1,2,3,4]}", "no \"id\"")]
    [InlineData("{\"id\":\"x\"}", "no \"features\"")]
    [InlineData("{\"id\":\"x\",\"features\":[1,2,3,4,5]}", "has 5 values")]
    [InlineData("{\"id\":\"x\",\"features\":[1,2,1e39,4]}", "non-finite value")]
    [InlineData("{\"id\":\"x\",\"features\":\"1,2,3,4\"}", "must be an array")]
    [InlineData("[1,2,3,4]", "not a JSON object")]
    [InlineData("{\"id\":\"x\",\"inputs\":{}}", "is missing")]
    public void BadJsonRecordFailsAloneWithItsReason(string line, string reason)
    {
        var records = ReadAll(Encoding.UTF8.GetBytes($"{line}\n{{\"id\":\"ok\",\"features\":[1,2,3,4]}}\n"), BulkInputFormat.JsonLines);

        Assert.Contains(reason, records[0].Record.Error, StringComparison.Ordinal);
        Assert.Null(records[1].Record.Error);
        Assert.Equal("ok", records[1].Record.Id);
    }

    [Fact]
    public void AGzipThatExpandsPastTheByteLimitStopsTheFileWithTheReasonAfterTheRecordsBeforeIt()
    {
        // 200,000 records, 6 MB of lines, from a gzip of a few kilobytes: the shape of a decompression bomb.
        var gzip = new MemoryStream();
        using (var zip = new GZipStream(gzip, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var line = Encoding.UTF8.GetBytes("{\"id\":\"r\",\"features\":[1,2,3,4]}\n");
            for (var i = 0; i < 200_000; i++)
            {
                zip.Write(line);
            }
        }

        Assert.True(gzip.Length < 64 * 1024);
        var (read, error) = ReadUntilRefused(gzip.ToArray(), new BulkFileLimits(MaxDecompressedBytes: 1 << 20, MaxRecords: long.MaxValue));

        // Every 32-byte line within the first MiB, and not one more.
        Assert.Equal((1 << 20) / 32, read);
        Assert.Equal("The file holds more than 1048576 bytes once decompressed, the limit per bulk job (Workers:MaxBulkDecompressedBytes). " +
            "Reading stopped there; the records already scored stay in the output.", error);
    }

    [Theory]
    [InlineData(BulkInputFormat.JsonLines, "{\"id\":\"r\",\"features\":[1,2,3,4]}\n")]
    [InlineData(BulkInputFormat.Csv, "1,2,3,4\n")]
    public void RecordsPastTheRecordLimitStopTheFileWithTheReasonAfterExactlyTheLimit(BulkInputFormat format, string line)
    {
        var file = (format == BulkInputFormat.Csv ? "f1,f2,f3,f4\n" : "") + string.Concat(Enumerable.Repeat(line, 1_000));

        var (read, error) = ReadUntilRefused(Encoding.UTF8.GetBytes(file), new BulkFileLimits(MaxDecompressedBytes: long.MaxValue, MaxRecords: 250));

        Assert.Equal(250, read);
        Assert.Equal("The file holds more than 250 records, the limit per bulk job (Workers:MaxBulkRecords). " +
            "Reading stopped there; the records already scored stay in the output.", error);
    }

    [Fact]
    public void AFileWithinTheLimitsIsReadWhole()
    {
        var file = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"id\":1,\"features\":[1,2,3,4]}\n", 250)));

        Assert.Equal((250, null), ReadUntilRefused(file, new BulkFileLimits(MaxDecompressedBytes: file.Length, MaxRecords: 250)));
    }

    private (int Read, string? Error) ReadUntilRefused(byte[] file, BulkFileLimits limits)
    {
        var read = 0;
        try
        {
            using var reader = BulkRecordReader.Open(new MemoryStream(file), null, _model, fileLimits: limits);
            var values = new float[reader.ValuesPerRecord];
            while (reader.TryRead(values, out var record))
            {
                Assert.Null(record.Error);
                read++;
            }

            return (read, null);
        }
        catch (InvalidBulkFileException ex)
        {
            return (read, ex.Message);
        }
    }

    [Fact]
    public void GzipCsvWithTheIdColumnAnywhereAndQuotedFieldsIsRead()
    {
        var csv = "f1,f2,id,f3,f4\n1,2,\"user, 1\",3,4\n 5 , 6 ,u2, 7 , 8 \n";
        var gzip = new MemoryStream();
        using (var zip = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(Encoding.UTF8.GetBytes(csv));
        }

        var records = ReadAll(gzip.ToArray());

        Assert.Equal(["user, 1", "u2"], records.Select(r => r.Record.Id));
        Assert.Equal([1f, 2f, 3f, 4f], records[0].Values);
        Assert.Equal([5f, 6f, 7f, 8f], records[1].Values);
    }

    [Theory]
    [InlineData("a,b,c\n1,2,3\n", "The CSV header has 3 columns")]
    [InlineData("id,a,b,c,id\n", "The CSV header has 5 columns")]
    [InlineData(" \n\t\n", "The file has no records.")]
    public void FileThatCannotBeReadIsRefusedWhole(string content, string reason)
    {
        var error = Assert.Throws<InvalidBulkFileException>(() => ReadAll(Encoding.UTF8.GetBytes(content)));
        Assert.StartsWith(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChunkPayloadRoundTripsRecordsAndErrorsInFileOrder()
    {
        var records = ReadAll(Encoding.UTF8.GetBytes("{\"id\":\"a\",\"features\":[1,2,3,4]}\n{\"id\":\"b\",\"features\":[1]}\n{\"id\":\"c\",\"features\":[9,8,7,6]}\n"));
        using var writer = new BulkChunk.Writer(4);
        foreach (var (record, values) in records)
        {
            writer.Add(record, record.Error is null ? values : new float[4]);
        }

        var chunk = BulkChunk.Read(writer.ToPayload().ToArray(), 4);

        Assert.Equal(["a", "b", "c"], chunk.Records.Select(r => r.Id));
        Assert.Equal([0, -1, 1], chunk.Records.Select(r => r.ValueIndex));
        Assert.Contains("has 1 values", chunk.Records[1].Error, StringComparison.Ordinal);
        Assert.Equal([1f, 2f, 3f, 4f, 9f, 8f, 7f, 6f], chunk.Values);
        Assert.Throws<InvalidDataException>(() => BulkChunk.Read(writer.ToPayload().ToArray(), 5));
    }

    [Fact]
    public async Task CsvRecordsWrittenByTheCsvLibraryWithCommasQuotesAndLineBreaksInTheirIdsRoundTrip()
    {
        string[] ids = ["plain", "a, b", "say \"hi\"", "two\nlines", "crlf\r\nand, \"all\"", ""];
        var text = new StringBuilder();
        await using (var writer = Sep.New(',').Writer(o => o with { Escape = true }).To(text))
        {
            for (var r = 0; r < ids.Length; r++)
            {
                await using var row = writer.NewRow(TestContext.Current.CancellationToken);
                row["f1"].Format(r + 0.5f);
                row["id"].Set(ids[r]);
                row["f2"].Format(-r);
                row["f3"].Format(r * 2);
                row["f4"].Format(1e-3f);
            }
        }

        var records = ReadAll(Encoding.UTF8.GetBytes(text.ToString()));

        // Each record is known by its id, or without one by the line it starts on: the header is line 1, and two records
        // above the last one span two lines each.
        Assert.Equal([.. ids[..^1], "9"], records.Select(r => r.Record.Id));
        Assert.Equal([2L, 3L, 4L, 5L, 7L, 9L], records.Select(r => r.Record.Line));
        Assert.All(records, r => Assert.Null(r.Record.Error));
        Assert.Equal([3.5f, -3f, 6f, 1e-3f], records[3].Values);
    }

    [Fact]
    public void ACsvRowWithTheWrongColumnCountOrABadValueOrNothingFailsAlone()
    {
        var records = ReadAll(Encoding.UTF8.GetBytes("id,a,b,c,d\n\nr1,1,2,3\nr2,1,2,3,4,5\n\"r3\",1,\"2\",x,4\n \t \nr4,\"1\", 2 ,3,4\n"));

        // Six lines after the header, six records: the blank ones fail by their line number, as records without an id do.
        Assert.Equal(["2", "r1", "r2", "r3", "6", "r4"], records.Select(r => r.Record.Id));
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L], records.Select(r => r.Record.Line));
        Assert.Equal(BulkRecordReader.BlankLine, records[0].Record.Error);
        Assert.Contains("has 4 columns; the header has 5", records[1].Record.Error, StringComparison.Ordinal);
        Assert.Contains("more than the header's 5 columns", records[2].Record.Error, StringComparison.Ordinal);
        Assert.Contains("Column 4 has 'x', which is not a number", records[3].Record.Error, StringComparison.Ordinal);
        Assert.Equal(BulkRecordReader.BlankLine, records[4].Record.Error);
        Assert.Equal([1f, 2f, 3f, 4f], records[5].Values);
    }

    [Fact]
    public void ACsvQuoteLeftOpenIsRefusedOnceTheRecordPassesTheSizeLimitInsteadOfBeingHeldWhole()
    {
        using var file = new OpenQuoteFile("a,b,c,d\n1,2,3,\"");
        using var reader = BulkRecordReader.Open(file, null, _model);
        var values = new float[reader.ValuesPerRecord];

        var error = Assert.Throws<InvalidBulkFileException>(() => reader.TryRead(values, out _));

        Assert.StartsWith("A record is too long to read; is a quote left open?", error.Message, StringComparison.Ordinal);
        Assert.InRange(file.Position, 16L << 20, 64L << 20);
    }

    /// <summary>A CSV file whose last field opens a quote and never closes it: endless, read lazily.</summary>
    private sealed class OpenQuoteFile(string head) : Stream
    {
        private readonly byte[] _head = Encoding.UTF8.GetBytes(head);
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => long.MaxValue;

        public override long Position
        {
            get => _position;
            set => _position = value;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            for (var i = 0; i < count; i++)
            {
                buffer[offset + i] = _position + i < _head.Length ? _head[_position + i] : (byte)'x';
            }

            _position += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
