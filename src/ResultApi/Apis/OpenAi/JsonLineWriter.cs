using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>JSON lines into a buffer that is written out asynchronously when it fills (a response body takes no synchronous
/// writes): a value, then '\n', then the next value.</summary>
internal sealed class JsonLineWriter(Stream destination) : IDisposable
{
    private const int FlushAt = 64 << 10;

    // Files are data, never HTML: quotes and apostrophes in reasons and ids stay readable.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushAt * 2);
    private Utf8JsonWriter? _json;

    public Utf8JsonWriter Json => _json ??= new Utf8JsonWriter(_buffer, Options);

    /// <summary>Ends the line; writes the buffer out once it holds enough.</summary>
    public async ValueTask EndLineAsync(CancellationToken cancellationToken)
    {
        Json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        Json.Reset(_buffer);
        if (_buffer.WrittenCount >= FlushAt)
        {
            await FlushAsync(cancellationToken);
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer.WrittenCount > 0)
        {
            await destination.WriteAsync(_buffer.WrittenMemory, cancellationToken);
            _buffer.Clear();
        }
    }

    public void Dispose() => _json?.Dispose();
}
