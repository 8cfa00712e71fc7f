using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AIaaS.Queue.TestSupport;

/// <summary>
/// A RabbitMQ node of the test's own, started from the Debian package's scripts on free loopback ports with its own node
/// name and data folder, so that a test can crash and restart a real broker (durable queues, persistent messages, quorum
/// queues recovering their logs) without touching the broker other tests share. No plugins: it answers AMQP only, as
/// <c>guest</c> on loopback. Start-up takes 5-10 s here.
/// </summary>
public sealed class PrivateRabbitMqNode : IAsyncDisposable
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("aiaas-rabbitmq-");
    private readonly int _port = FreePort();
    private readonly int _distributionPort = FreePort();
    private readonly string _name = $"aiaas-{Guid.NewGuid():N}"[..14] + "@localhost";
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>Whether this machine has the broker's scripts (the test script installs them).</summary>
    public static bool IsAvailable => File.Exists(ServerScript);

    /// <summary>The node's default virtual host, as guest.</summary>
    public Uri Uri => new(string.Create(CultureInfo.InvariantCulture, $"amqp://guest:guest@127.0.0.1:{_port}/"));

    /// <summary>How many times the node was started (1 after the first start, 2 after a restart).</summary>
    public int Starts { get; private set; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<PrivateRabbitMqNode> StartAsync(CancellationToken cancellationToken)
    {
        var node = new PrivateRabbitMqNode();
        try
        {
            var conf = Directory.CreateDirectory(Path.Combine(node._folder.FullName, "conf.d"));
            // The deployment's message bound (scripts/rabbitmq.conf), on this node's own port.
            await File.WriteAllTextAsync(Path.Combine(conf.FullName, "10-aiaas.conf"), string.Create(CultureInfo.InvariantCulture,
                $"listeners.tcp.default = 127.0.0.1:{node._port}\nmax_message_size = 16777216\n"), cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(node._folder.FullName, "enabled_plugins"), "[].\n", cancellationToken);
            await node.StartAgainAsync(cancellationToken);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Ends the node at once, as a power cut or the OOM killer would (SIGKILL to the Erlang VM): nothing is flushed
    /// that was not on disk already, and every client's connection drops.</summary>
    public void Crash()
    {
        _process?.Kill(entireProcessTree: true);
        _process?.WaitForExit(10_000);
    }

    /// <summary>Starts the node on its data folder (again, after <see cref="Crash"/>) and returns once it accepts connections.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(ServerScript)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _folder.FullName,
        };
        var folder = _folder.FullName;
        start.Environment["RABBITMQ_NODENAME"] = _name;
        start.Environment["RABBITMQ_NODE_PORT"] = _port.ToString(CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(folder, "mnesia");
        start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(folder, "log");
        start.Environment["RABBITMQ_CONFIG_FILES"] = Path.Combine(folder, "conf.d");
        start.Environment["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(folder, "advanced.config");
        start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(folder, "enabled_plugins");
        start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(folder, "pid");
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(90));
        while (!await AcceptsAmqpAsync(limit.Token))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"RabbitMQ node {_name} exited during start-up:\n{Output}");
            }

            try
            {
                await Task.Delay(250, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"RabbitMQ node {_name} did not accept connections within 90 s:\n{Output}");
            }
        }
    }

    /// <summary>Every queue of the node with its ready and unacknowledged messages and its consumers, one per line, as
    /// <c>rabbitmqctl list_queues</c> prints them (for a failing test's log: where the messages are).</summary>
    public async Task<string> ListQueuesAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(ServerScript)!, "rabbitmqctl"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-n", _name, "-q", "list_queues", "name", "type", "messages_ready", "messages_unacknowledged", "consumers" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        var output = process.StandardOutput.ReadToEndAsync(limit.Token);
        var errors = process.StandardError.ReadToEndAsync(limit.Token);
        await process.WaitForExitAsync(limit.Token);
        return await output + await errors;
    }

    /// <summary>The listener opens only once the node has booted (queues recovered), so a completed AMQP handshake means ready.</summary>
    private async Task<bool> AcceptsAmqpAsync(CancellationToken cancellationToken)
    {
        try
        {
            var factory = new RabbitMQ.Client.ConnectionFactory { Uri = Uri, RequestedConnectionTimeout = TimeSpan.FromSeconds(2) };
            await using var connection = await factory.CreateConnectionAsync(cancellationToken);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.BrokerUnreachableException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public ValueTask DisposeAsync()
    {
        Crash();
        _process?.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
