using System.Net;
using System.Net.Sockets;
using RabbitMQ.Client;

namespace AIaaS.Queue.Transport.Tests;

/// <summary>The broker connection's socket after the broker reset it (as a killed broker's sockets are): writes are dropped
/// rather than thrown, so that RabbitMQ.Client's write loop lives on and drains its frame queue, and the reader sees the end.</summary>
public sealed class BrokerSocketTests
{
    private const int TestTimeout = 30_000;

    [Fact(Timeout = TestTimeout)]
    public async Task WritesAfterTheBrokerResetTheConnectionAreDroppedAndTheReaderSeesTheEnd()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = await ResetByBrokerAsync(BrokerSocket.Create(AddressFamily.InterNetwork), ct);
        var stream = client.GetStream();

        for (var i = 0; i < 100; i++)
        {
            await stream.WriteAsync(new byte[64 * 1024], ct);
            await stream.FlushAsync(ct);
        }

        Assert.True(await ReaderSeesTheEndAsync(stream, ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task TheClientsDefaultSocketThrowsOnTheSameWrites()
    {
        // What ends RabbitMQ.Client's write loop, leaving its bounded frame queue undrained (its issue 1930).
        var ct = TestContext.Current.CancellationToken;
        using var client = await ResetByBrokerAsync(ConnectionFactoryBase.DefaultSocketFactory(AddressFamily.InterNetwork), ct);
        var stream = client.GetStream();

        await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await stream.WriteAsync(new byte[64 * 1024], ct);
            }
        });
    }

    private static async Task<ITcpClient> ResetByBrokerAsync(ITcpClient client, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken);
            using var broker = await listener.AcceptSocketAsync(cancellationToken);
            broker.LingerState = new LingerOption(true, 0); // closed with a reset, not a graceful FIN
            broker.Close();
            await Task.Delay(100, cancellationToken);
            return client;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static async Task<bool> ReaderSeesTheEndAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(new byte[16], cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
