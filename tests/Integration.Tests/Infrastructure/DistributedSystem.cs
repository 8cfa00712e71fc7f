using AIaaS.Queue.Producer;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>
/// The distributed layout on one machine: a real RabbitMQ virtual host, the ResultApi on a loopback port (built by the
/// Server's <see cref="AiaasServer"/>, which on a broker hosts no workers), worker processes started from <c>src/Workers</c>, and an SDK client with its own broker connection.
/// The processes share the embedded store file, as they would share MongoDB in production.
/// </summary>
public class DistributedSystem : IAsyncLifetime
{
    private readonly List<WorkerProcess> _workers = [];
    private readonly List<IHost> _clients = [];
    private WebApplication? _api;
    private IHost? _client;
    private Uri _brokerUri = null!;
    private BrokerRoles _roles = null!;

    public RabbitMqBroker Broker { get; } = new();
    public DirectoryInfo DataDirectory { get; } = Directory.CreateTempSubdirectory("aiaas-it-");
    public Uri ApiUrl { get; private set; } = null!;
    public IAiaasClient Client => _client!.Services.GetRequiredService<IAiaasClient>();
    public IServiceProvider ApiServices => _api!.Services;
    public IReadOnlyList<WorkerProcess> Workers => _workers;

    protected virtual int WorkerCount => 1;

    /// <summary>Worker settings beyond the transport and store, as environment variables.</summary>
    protected virtual IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>();

    /// <summary>ResultApi settings beyond the transport and store.</summary>
    protected virtual IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>();

    public string StorePath => Path.Combine(DataDirectory.FullName, "aiaas.db");

    /// <summary>The broker URI every process uses: the fixture's virtual host with the test script's credentials, unless overridden.</summary>
    protected virtual Task<Uri> ConnectBrokerAsync(CancellationToken cancellationToken) => Task.FromResult(Broker.Uri);

    /// <summary>The broker URI of each role (API, workers, SDK clients): all <see cref="ConnectBrokerAsync"/>'s unless overridden.</summary>
    protected virtual async Task<BrokerRoles> ConnectBrokerRolesAsync(CancellationToken cancellationToken)
    {
        var uri = await ConnectBrokerAsync(cancellationToken);
        return new BrokerRoles(uri, uri, uri);
    }

    /// <summary>SDK client settings beyond the ResultApi and broker addresses and the key.</summary>
    protected virtual void ConfigureClientOptions(AiaasClientOptions options)
    {
    }

    /// <summary>Changes the ResultApi's builder before it is built (for example to capture its logs).</summary>
    protected virtual void ConfigureApi(WebApplicationBuilder builder)
    {
    }

    public async ValueTask InitializeAsync()
    {
        await Broker.InitializeAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        _roles = await ConnectBrokerRolesAsync(timeout.Token);
        _brokerUri = _roles.Clients;

        _api = AiaasServer.Build(new Dictionary<string, string?>(ApiSettings)
        {
            ["Transport:RabbitMqUri"] = _roles.Api.ToString(),
            ["Store:Kind"] = "Embedded",
            ["Store:EmbeddedPath"] = StorePath,
        }, ConfigureApi);
        await _api.StartAsync(timeout.Token);
        ApiUrl = _api.GetAddress();

        for (var i = 0; i < WorkerCount; i++)
        {
            var environment = new Dictionary<string, string>(WorkerSettings)
            {
                ["Transport__RabbitMqUri"] = _roles.Workers.ToString(),
                ["Store__Kind"] = "Embedded",
                ["Store__EmbeddedPath"] = StorePath,
                ["Workers__WorkerId"] = $"worker-{i + 1}",
                ["Workers__ModelCacheDirectory"] = Path.Combine(DataDirectory.FullName, $"models-{i + 1}"),
            };
            _workers.Add(WorkerProcess.Start(environment));
        }

        await WaitForConsumersAsync("predict-jobs", WorkerCount, timeout.Token);
        _client = await StartClientHostAsync(apiKey: null, timeout.Token);
    }

    /// <summary>A further SDK client with its own broker connection, sending <paramref name="apiKey"/>; stopped with the fixture.</summary>
    public async Task<IAiaasClient> StartClientAsync(string? apiKey, CancellationToken cancellationToken) =>
        (await StartClientHostAsync(apiKey, cancellationToken)).Services.GetRequiredService<IAiaasClient>();

    /// <summary>The SDK's own bus of the fixture's first client, for publishing commands as no SDK would.</summary>
    public IAiaasBus ClientBus => _client!.Services.GetRequiredService<IAiaasBus>();

    private async Task<IHost> StartClientHostAsync(string? apiKey, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        ConfigureClient(builder);
        builder.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = ApiUrl;
            o.RabbitMqUri = _brokerUri;
            o.ApiKey = apiKey;
            ConfigureClientOptions(o);
        });
        var client = builder.Build();
        _clients.Add(client);
        await client.StartAsync(cancellationToken);
        return client;
    }

    /// <summary>Changes each SDK client's host builder before it is built.</summary>
    protected virtual void ConfigureClient(HostApplicationBuilder builder)
    {
    }

    private async Task WaitForConsumersAsync(string queue, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_workers.FirstOrDefault(w => w.HasExited) is { } dead)
            {
                throw new InvalidOperationException("A worker process exited during start-up:\n" + dead.Output);
            }

            try
            {
                if (await ConsumerCountAsync(queue, cancellationToken) >= count)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // The queue does not exist until the first worker declares it.
            }

            try
            {
                await Task.Delay(250, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("Workers did not start consuming in time:\n" + string.Join("\n---\n", _workers.Select(w => w.Output)));
            }
        }
    }

    /// <summary>Consumers on a queue of the fixture's broker: from the shared broker's management API unless overridden.</summary>
    protected virtual async Task<int> ConsumerCountAsync(string queue, CancellationToken cancellationToken) =>
        (await Broker.GetQueueAsync(queue, cancellationToken)).Consumers;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.StopAsync();
            client.Dispose();
        }

        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        if (_api is not null)
        {
            await _api.StopAsync();
            await _api.DisposeAsync();
        }

        await Broker.DisposeAsync();
        try
        {
            DataDirectory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>The broker URI (and so the broker user) each kind of process connects with.</summary>
public sealed record BrokerRoles(Uri Api, Uri Workers, Uri Clients);
