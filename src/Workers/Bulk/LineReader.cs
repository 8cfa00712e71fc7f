namespace AIaaS.Queue.Workers.Bulk;

/// <summary>Reads a stream line by line as UTF-8 bytes, without a string per line: each line is a span into one reused
/// buffer, valid until the next read. A line longer than <see cref="MaxLineBytes"/> throws, so that a file without line
/// breaks cannot take the worker's memory.</summary>
internal sealed class LineReader(Stream stream) : IDisposable
{
    public const int MaxLineBytes = 64 << 20;
    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;
    private bool _eof;
    private long _lineNumber;

    /// <summary>The first bytes of the stream (up to a buffer's worth), without consuming them.</summary>
    public ReadOnlySpan<byte> Peek()
    {
        while (!_eof && _end < _buffer.Length)
        {
            Fill();
        }

        return _buffer.AsSpan(_start, _end - _start);
    }

    public bool TryReadLine(out ReadOnlySpan<byte> line, out long lineNumber)
    {
        var scanned = 0;
        while (true)
        {
            var newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var length = scanned + newline;
                line = _buffer.AsSpan(_start, length);
                _start += length + 1;
                lineNumber = ++_lineNumber;
                line = WithoutByteOrderMark(line, lineNumber);
                return true;
            }

            scanned = _end - _start;
            if (_eof)
            {
                if (scanned == 0)
                {
                    line = default;
                    lineNumber = _lineNumber;
                    return false;
                }

                // The last line has no line break.
                line = _buffer.AsSpan(_start, scanned);
                _start = _end;
                lineNumber = ++_lineNumber;
                line = WithoutByteOrderMark(line, lineNumber);
                return true;
            }

            Fill();
        }
    }

    private static ReadOnlySpan<byte> WithoutByteOrderMark(ReadOnlySpan<byte> line, long lineNumber) =>
        lineNumber == 1 && line.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? line[3..] : line;

    private void Fill()
    {
        if (_start > 0)
        {
            // Move what is left of the current line to the front before reading more.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxLineBytes)
            {
                throw new InvalidBulkFileException($"Line {_lineNumber + 1} is longer than {MaxLineBytes >> 20} MiB; records are one per line.");
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var read = stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
    }

    /// <summary>The stream from the first byte not yet read as a line on: for a reader whose records may span lines.
    /// Read it instead of this reader from then on; disposing either disposes the stream.</summary>
    public Stream Remaining() => new RemainingStream(this, stream);

    public void Dispose() => stream.Dispose();

    private sealed class RemainingStream(LineReader lines, Stream rest) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var buffered = lines._end - lines._start;
            if (buffered == 0)
            {
                return rest.Read(buffer);
            }

            var take = Math.Min(buffered, buffer.Length);
            lines._buffer.AsSpan(lines._start, take).CopyTo(buffer);
            lines._start += take;
            return take;
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
                lines.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
