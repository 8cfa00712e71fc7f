using System.Net.Sockets;
using RabbitMQ.Client;

namespace AIaaS.Queue.Transport;

/// <summary>
/// The socket of a broker connection whose writes, once the connection has failed, are dropped instead of thrown, and whose
/// first failed write shuts the socket down so that the connection's reader sees the end at once.
/// </summary>
/// <remarks>
/// Works around RabbitMQ.Client 7.2.2's issue 1930 (fixed on its main branch, in no release yet). The client writes through
/// a queue of 128 frames that one loop drains into the socket; when a write to the socket fails that loop ends and nothing
/// drains the queue again until the connection has finished shutting down. Every later ack or publish on the dead connection
/// then waits forever for room in a full queue. MassTransit acknowledges a message inside the client's consumer callback, and
/// the client shuts a connection down one channel at a time, waiting for each channel's callbacks to return: one ack waiting
/// for room stopped the shutdown of its channel, and with it the shutdown of every later channel, the connection's own close
/// (which would have unblocked the queue) and MassTransit's reconnect. A worker whose broker restarted under load then kept
/// an endpoint that never reconnected ("Consumer Stopping (Consume Loop Exited)" and nothing more) and events that were
/// never published. With the loop alive, the queue drains into a socket that drops what it is given, as the broken
/// connection would have lost it anyway: an unacknowledged message is redelivered, an unconfirmed publish fails.
/// </remarks>
internal sealed class BrokerSocket(Socket socket) : TcpClientAdapter(socket)
{
    /// <summary>For <see cref="ConnectionFactoryBase.SocketFactory"/>: the client's default socket, with this stream.</summary>
    public static ITcpClient Create(AddressFamily addressFamily) =>
        new BrokerSocket(new Socket(addressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });

    public override NetworkStream GetStream() => new DroppingWritesAfterFailureStream(Client);

    private sealed class DroppingWritesAfterFailureStream(Socket socket) : NetworkStream(socket, ownsSocket: false)
    {
        private volatile bool _failed;

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_failed)
            {
                return;
            }

            try
            {
                base.Write(buffer);
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                Fail();
            }
        }

        public override void WriteByte(byte value) => Write([value]);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_failed)
            {
                return;
            }

            try
            {
                await base.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                Fail();
            }
        }

        private static bool IsConnectionFailure(Exception ex) => ex is IOException or SocketException or ObjectDisposedException;

        private void Fail()
        {
            _failed = true;
            try
            {
                // The reader may still be waiting on a half-open socket; ending both directions ends its wait now.
                Socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
