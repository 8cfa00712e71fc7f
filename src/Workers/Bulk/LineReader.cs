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

    public void Dispose() => stream.Dispose();
}

/// <summary>The fields of one CSV line: comma-separated, a field may be quoted ("a, b" or "say ""hi""").
/// Quoted fields come back with their quotes; the reader trims them.</summary>
internal ref struct CsvFields(ReadOnlySpan<byte> line)
{
    private ReadOnlySpan<byte> _rest = line;
    private bool _done;

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly CsvFields GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_done)
        {
            return false;
        }

        var inQuotes = false;
        for (var i = 0; i < _rest.Length; i++)
        {
            var c = _rest[i];
            if (c == (byte)'"')
            {
                inQuotes = !inQuotes;
            }
            else if (c == (byte)',' && !inQuotes)
            {
                Current = _rest[..i];
                _rest = _rest[(i + 1)..];
                return true;
            }
        }

        Current = _rest;
        _done = true;
        return true;
    }
}
