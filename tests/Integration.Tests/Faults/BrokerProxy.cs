using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// A loopback TCP relay between the system's processes and the broker, to take the broker away from them. An outage
/// closes every AMQP connection and refuses new ones on the same port until it ends, which is what the clients see
/// when the broker restarts; the shared broker itself, which other test classes and other runs use, stays up.
/// A private RabbitMQ node (own node name, ports and data directory) was tried first: it runs here, but on this shared
/// 2-core machine one start took 10 to 20 s and one <c>rabbitmqctl stop</c> had not returned after 10 minutes, which a
/// bounded suite cannot afford. What the relay does not cover is the broker's own durability across a restart.
/// It also counts the acknowledgements the clients send (AMQP basic.ack, nack and reject frames), so that a test can
/// show that nothing is acknowledged while the store is unavailable.
/// </summary>
internal sealed class BrokerProxy : IAsyncDisposable
{
    // AMQP 0-9-1: a frame is type (1 byte), channel (2), payload size (4), payload, frame-end (0xCE); a method frame's
    // payload starts with its class id and method id. Class 60 is basic: ack 80, reject 90, nack 120.
    private const int FrameHeaderSize = 7;
    private const byte MethodFrame = 1;
    private const ushort BasicClass = 60;
    private const int ProtocolHeaderSize = 8;

    private readonly EndPoint _broker;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _gate = new();
    private readonly List<Socket> _open = [];
    private TcpListener? _listener;
    private long _acknowledgements;

    private BrokerProxy(EndPoint broker, int port)
    {
        _broker = broker;
        Port = port;
    }

    public int Port { get; private set; }

    /// <summary>basic.ack, basic.nack and basic.reject frames sent by clients so far.</summary>
    public long Acknowledgements => Interlocked.Read(ref _acknowledgements);

    public static BrokerProxy Start(Uri broker)
    {
        var proxy = new BrokerProxy(new DnsEndPoint(broker.Host, broker.IsDefaultPort ? 5672 : broker.Port), 0);
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
            var up = CopyCountingAcknowledgementsAsync(toClient, toBroker);
            var down = toBroker.CopyToAsync(toClient, _disposed.Token);
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

    /// <summary>Relays the client's bytes frame by frame, counting the acknowledgement methods among them.</summary>
    private async Task CopyCountingAcknowledgementsAsync(Stream client, Stream broker)
    {
        var token = _disposed.Token;
        var buffer = new byte[64 * 1024];
        await client.ReadExactlyAsync(buffer.AsMemory(0, ProtocolHeaderSize), token);
        await broker.WriteAsync(buffer.AsMemory(0, ProtocolHeaderSize), token);
        while (true)
        {
            await client.ReadExactlyAsync(buffer.AsMemory(0, FrameHeaderSize), token);
            var type = buffer[0];
            var size = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(3));
            var frame = FrameHeaderSize + size + 1;
            if (frame > buffer.Length)
            {
                var larger = new byte[frame];
                buffer.AsSpan(0, FrameHeaderSize).CopyTo(larger);
                buffer = larger;
            }

            await client.ReadExactlyAsync(buffer.AsMemory(FrameHeaderSize, size + 1), token);
            if (type == MethodFrame && size >= 4 && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(FrameHeaderSize)) == BasicClass
                && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(FrameHeaderSize + 2)) is 80 or 90 or 120)
            {
                Interlocked.Increment(ref _acknowledgements);
            }

            await broker.WriteAsync(buffer.AsMemory(0, frame), token);
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
