using System.Globalization;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>How much one bulk file may hold once read: its bytes after decompression and its records. A small gzip can
/// expand to gigabytes of valid lines, and each record becomes stored work, so both are bounded whatever the upload's size.</summary>
internal readonly record struct BulkFileLimits(long MaxDecompressedBytes, long MaxRecords)
{
    /// <summary>As much as the ResultApi takes as a plain upload (4 GiB), and ten million records.</summary>
    public static BulkFileLimits Default { get; } = new(4L << 30, 10_000_000);

    internal string BytesPassed() => string.Create(CultureInfo.InvariantCulture,
        $"The file holds more than {MaxDecompressedBytes} bytes once decompressed, the limit per bulk job (Workers:MaxBulkDecompressedBytes). {Kept}");

    internal string RecordsPassed() => string.Create(CultureInfo.InvariantCulture,
        $"The file holds more than {MaxRecords} records, the limit per bulk job (Workers:MaxBulkRecords). {Kept}");

    private const string Kept = "Reading stopped there; the records already scored stay in the output.";
}

/// <summary>Reads <paramref name="inner"/> and throws <see cref="InvalidBulkFileException"/> once more than
/// <see cref="BulkFileLimits.MaxDecompressedBytes"/> have come out of it.</summary>
internal sealed class BoundedReadStream(Stream inner, BulkFileLimits limits) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        // Every byte up to the limit is given, so that each record within it is read; one byte more is refused.
        var allowed = limits.MaxDecompressedBytes - _read;
        if (allowed <= 0)
        {
            Span<byte> probe = stackalloc byte[1];
            return inner.Read(probe) == 0 ? 0 : throw new InvalidBulkFileException(limits.BytesPassed());
        }

        var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, allowed)]);
        _read += read;
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
