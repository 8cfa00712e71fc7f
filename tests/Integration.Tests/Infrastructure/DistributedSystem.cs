using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>
/// The distributed layout on one machine: a real RabbitMQ virtual host, the ResultApi on a loopback port (hosting no
/// workers), worker processes started from <c>src/Workers</c>, and an SDK client with its own broker connection.
/// The processes share the embedded store file, as they would share MongoDB in production.
/// </summary>
public class DistributedSystem : IAsyncLifetime
{
    private readonly List<WorkerProcess> _workers = [];
    private WebApplication? _api;
    private IHost? _client;

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

    /// <summary>The broker address the ResultApi, the workers and the SDK client use; read once the broker is up,
    /// so that a fixture can put something between them and the broker.</summary>
    protected virtual Uri ServiceBrokerUri => Broker.Uri;

    /// <summary>SDK client settings beyond the ResultApi and broker addresses.</summary>
    protected virtual void ConfigureClient(AiaasClientOptions options)
    {
    }

    public async ValueTask InitializeAsync()
    {
        await Broker.InitializeAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        _api = AiaasServer.Build(new Dictionary<string, string?>(ApiSettings)
        {
            ["Transport:RabbitMqUri"] = ServiceBrokerUri.ToString(),
            ["Store:Kind"] = "Embedded",
            ["Store:EmbeddedPath"] = StorePath,
        });
        await _api.StartAsync(timeout.Token);
        ApiUrl = _api.GetAddress();

        for (var i = 0; i < WorkerCount; i++)
        {
            var environment = new Dictionary<string, string>(WorkerSettings)
            {
                ["Transport__RabbitMqUri"] = ServiceBrokerUri.ToString(),
                ["Store__Kind"] = "Embedded",
                ["Store__EmbeddedPath"] = StorePath,
                ["Workers__WorkerId"] = $"worker-{i + 1}",
                ["Workers__ModelCacheDirectory"] = Path.Combine(DataDirectory.FullName, $"models-{i + 1}"),
            };
            _workers.Add(WorkerProcess.Start(environment));
        }

        await WaitForConsumersAsync("predict-jobs", WorkerCount, timeout.Token);

        var client = Host.CreateApplicationBuilder();
        client.Logging.SetMinimumLevel(LogLevel.Warning);
        client.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = ApiUrl;
            o.RabbitMqUri = ServiceBrokerUri;
            ConfigureClient(o);
        });
        _client = client.Build();
        await _client.StartAsync(timeout.Token);
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
                if ((await Broker.GetQueueAsync(queue, cancellationToken)).Consumers >= count)
                {
                    return;
                }
            }
            catch (HttpRequestException)
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

    public virtual async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
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
