using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// A loopback TCP relay between the system's processes and the broker, to take the broker away from them. An outage
/// closes every AMQP connection and refuses new ones on the same port until it ends, which is what the clients see
/// when the broker restarts; the shared broker itself, which other test classes and other runs use, stays up.
/// A private RabbitMQ node (own node name, ports and data directory) was tried first: it runs here, but on this shared
/// 2-core machine one start took 10 to 20 s and one <c>rabbitmqctl stop</c> had not returned after 10 minutes, which a
/// bounded suite cannot afford. What the relay does not cover is the broker's own durability across a restart.
/// It also reads the AMQP frames it relays, to tell which messages the clients acknowledged: each basic.ack is matched
/// to its basic.deliver and that message's message-id (MassTransit's message id; for a submitted job, the job id), so
/// that a test can check that nothing was acknowledged whose job had no stored result. Only deliveries from the tracked
/// queues count (a delivery names its consumer tag, which basic.consume and its consume-ok tie to a queue): the same job
/// message is also delivered to <c>job-registry</c>, whose acknowledgement means "recorded as queued", not "finished".
/// </summary>
internal sealed class BrokerProxy : IAsyncDisposable
{
    // AMQP 0-9-1: a frame is type (1 byte), channel (2), payload size (4), payload, frame-end (0xCE); a method frame's
    // payload starts with its class id and method id. Class 60 is basic: deliver 60, ack 80. A delivery's properties
    // follow in a content header frame.
    private const int FrameHeaderSize = 7;
    private const byte MethodFrame = 1;
    private const byte ContentHeaderFrame = 2;
    private const ushort BasicClass = 60;
    private const ushort BasicConsume = 20;
    private const ushort BasicConsumeOk = 21;
    private const ushort BasicDeliver = 60;
    private const ushort BasicAck = 80;
    private const int ProtocolHeaderSize = 8;

    private readonly EndPoint _broker;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _gate = new();
    private readonly List<Socket> _open = [];
    private TcpListener? _listener;
    private readonly HashSet<string> _trackedQueues;
    private readonly List<string> _acknowledged = [];

    private BrokerProxy(EndPoint broker, IEnumerable<string> trackedQueues)
    {
        _broker = broker;
        _trackedQueues = [.. trackedQueues];
    }

    public int Port { get; private set; }

    /// <summary>How many tracked messages clients have acknowledged so far.</summary>
    public int AcknowledgedCount
    {
        get
        {
            lock (_acknowledged)
            {
                return _acknowledged.Count;
            }
        }
    }

    /// <summary>The message ids of tracked messages acknowledged since the first <paramref name="skip"/>, in order.</summary>
    public IReadOnlyList<string> AcknowledgedSince(int skip)
    {
        lock (_acknowledged)
        {
            return _acknowledged[skip..];
        }
    }

    /// <summary>Starts relaying to <paramref name="broker"/>; acknowledgements are tracked for messages delivered from
    /// <paramref name="trackedQueues"/>.</summary>
    public static BrokerProxy Start(Uri broker, params IEnumerable<string> trackedQueues)
    {
        var proxy = new BrokerProxy(new DnsEndPoint(broker.Host, broker.IsDefaultPort ? 5672 : broker.Port), trackedQueues);
        proxy.Listen();
        return proxy;
    }

    /// <summary>The broker's address with the proxy's port.</summary>
    public Uri Through(Uri broker) => new UriBuilder(broker) { Host = "127.0.0.1", Port = Port }.Uri;

    /// <summary>Drops every connection and refuses new ones for <paramref name="outage"/>, then accepts again on the same port.</summary>
    public async Task OutageAsync(TimeSpan outage, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            foreach (var socket in _open)
            {
                socket.Dispose();
            }

            _open.Clear();
        }

        await Task.Delay(outage, cancellationToken);
        Listen();
    }

    private void Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        lock (_gate)
        {
            _listener = listener;
        }

        _ = AcceptAsync(listener);
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(_disposed.Token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return; // The listener was stopped by an outage or by disposal.
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var broker = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        lock (_gate)
        {
            _open.Add(client);
            _open.Add(broker);
        }

        try
        {
            await broker.ConnectAsync(_broker, _disposed.Token);
            await using var toBroker = new NetworkStream(broker, ownsSocket: false);
            await using var toClient = new NetworkStream(client, ownsSocket: false);
            var deliveries = new Deliveries(this);
            var up = RelayFramesAsync(toClient, toBroker, ProtocolHeaderSize, deliveries.FromClient);
            var down = RelayFramesAsync(toBroker, toClient, 0, deliveries.FromBroker);
            await Task.WhenAny(up, down);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection ended: the client's or the broker's side closed, or an outage cut it.
        }
        finally
        {
            lock (_gate)
            {
                _open.Remove(client);
                _open.Remove(broker);
            }

            client.Dispose();
            broker.Dispose();
        }
    }

    /// <summary>Relays frames one by one, after a leading protocol header of <paramref name="headerSize"/> bytes, and
    /// shows each to <paramref name="inspect"/> (type, channel, payload) before passing it on.</summary>
    private async Task RelayFramesAsync(Stream from, Stream to, int headerSize, Action<byte, ushort, ReadOnlyMemory<byte>> inspect)
    {
        var token = _disposed.Token;
        var buffer = new byte[64 * 1024];
        await from.ReadExactlyAsync(buffer.AsMemory(0, headerSize), token);
        await to.WriteAsync(buffer.AsMemory(0, headerSize), token);
        while (true)
        {
            await from.ReadExactlyAsync(buffer.AsMemory(0, FrameHeaderSize), token);
            var size = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(3));
            var frame = FrameHeaderSize + size + 1;
            if (frame > buffer.Length)
            {
                var larger = new byte[frame];
                buffer.AsSpan(0, FrameHeaderSize).CopyTo(larger);
                buffer = larger;
            }

            await from.ReadExactlyAsync(buffer.AsMemory(FrameHeaderSize, size + 1), token);
            inspect(buffer[0], BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(1)), buffer.AsMemory(FrameHeaderSize, size));
            await to.WriteAsync(buffer.AsMemory(0, frame), token);
        }
    }

    private void Acknowledged(string messageId)
    {
        lock (_acknowledged)
        {
            _acknowledged.Add(messageId);
        }
    }

    /// <summary>One connection's deliveries of tracked messages, by channel and delivery tag, until acknowledged.</summary>
    private sealed class Deliveries(BrokerProxy proxy)
    {
        // basic.consume names the queue and may leave the tag to the broker, whose consume-ok (in order, per channel) names it.
        private readonly Dictionary<ushort, Queue<string>> _consuming = [];
        private readonly HashSet<string> _trackedTags = [];
        private readonly Dictionary<ushort, ulong> _awaitingProperties = [];
        private readonly Dictionary<(ushort Channel, ulong Tag), string> _unacknowledged = [];

        public void FromBroker(byte type, ushort channel, ReadOnlyMemory<byte> payload)
        {
            var span = payload.Span;
            lock (this)
            {
                if (type == MethodFrame && IsBasic(span, BasicConsumeOk))
                {
                    // basic.consume-ok: consumer-tag (short string).
                    if (_consuming.TryGetValue(channel, out var queues) && queues.TryDequeue(out var queue) && proxy._trackedQueues.Contains(queue))
                    {
                        _trackedTags.Add(ShortString(span[4..]));
                    }
                }
                else if (type == MethodFrame && IsBasic(span, BasicDeliver))
                {
                    // basic.deliver: consumer-tag (short string), delivery-tag (64 bits), redelivered (octet), exchange, routing key.
                    var args = span[4..];
                    var consumer = ShortString(args);
                    args = args[(1 + args[0])..];
                    if (_trackedTags.Contains(consumer))
                    {
                        _awaitingProperties[channel] = BinaryPrimitives.ReadUInt64BigEndian(args);
                    }
                }
                else if (type == ContentHeaderFrame && _awaitingProperties.Remove(channel, out var tag) && MessageId(span) is { } id)
                {
                    _unacknowledged[(channel, tag)] = id;
                }
            }
        }

        public void FromClient(byte type, ushort channel, ReadOnlyMemory<byte> payload)
        {
            var span = payload.Span;
            if (type == MethodFrame && IsBasic(span, BasicConsume))
            {
                // basic.consume: reserved (16 bits), queue (short string), consumer-tag (short string), ...
                lock (this)
                {
                    var queue = ShortString(span[6..]);
                    if (!_consuming.TryGetValue(channel, out var queues))
                    {
                        _consuming[channel] = queues = new Queue<string>();
                    }

                    queues.Enqueue(queue);
                }

                return;
            }

            if (type != MethodFrame || !IsBasic(span, BasicAck))
            {
                return;
            }

            // basic.ack: delivery-tag (64 bits), then the "multiple" bit: every delivery up to this tag on the channel.
            var tag = BinaryPrimitives.ReadUInt64BigEndian(span[4..]);
            var multiple = (span[12] & 1) != 0;
            lock (this)
            {
                var keys = multiple ? [.. _unacknowledged.Keys.Where(k => k.Channel == channel && k.Tag <= tag)] : new List<(ushort, ulong)> { (channel, tag) };
                foreach (var key in keys)
                {
                    if (_unacknowledged.Remove(key, out var id))
                    {
                        proxy.Acknowledged(id);
                    }
                }
            }
        }

        private static string ShortString(ReadOnlySpan<byte> field) => Encoding.UTF8.GetString(field.Slice(1, field[0]));

        private static bool IsBasic(ReadOnlySpan<byte> method, ushort id) =>
            method.Length >= 4 && BinaryPrimitives.ReadUInt16BigEndian(method) == BasicClass && BinaryPrimitives.ReadUInt16BigEndian(method[2..]) == id;

        /// <summary>The message-id property of a content header: class (2), weight (2), body size (8), property flags (2),
        /// then the properties present, in the order of the flag bits from the highest.</summary>
        private static string? MessageId(ReadOnlySpan<byte> header)
        {
            var flags = BinaryPrimitives.ReadUInt16BigEndian(header[12..]);
            var properties = header[14..];
            if (Has(15))
            {
                properties = properties[(1 + properties[0])..]; // content-type
            }

            if (Has(14))
            {
                properties = properties[(1 + properties[0])..]; // content-encoding
            }

            if (Has(13))
            {
                properties = properties[(4 + (int)BinaryPrimitives.ReadUInt32BigEndian(properties))..]; // headers table
            }

            properties = properties[((Has(12) ? 1 : 0) + (Has(11) ? 1 : 0))..]; // delivery-mode, priority
            for (var bit = 10; bit > 7; bit--)
            {
                if (Has(bit))
                {
                    properties = properties[(1 + properties[0])..]; // correlation-id, reply-to, expiration
                }
            }

            return Has(7) ? Encoding.ASCII.GetString(properties.Slice(1, properties[0])) : null;

            bool Has(int bit) => (flags & (1 << bit)) != 0;
        }
    }

    public ValueTask DisposeAsync()
    {
        _disposed.Cancel();
        lock (_gate)
        {
            _listener?.Stop();
            foreach (var socket in _open)
            {
                socket.Dispose();
            }

            _open.Clear();
        }

        _disposed.Dispose();
        return ValueTask.CompletedTask;
    }
}
