using System.Net;
using System.Net.Sockets;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Benchmarks;

/// <summary>The distributed layout for measurement: the ResultApi and N workers as separate processes on one broker
/// (its own queue prefix), sharing an embedded store file; an SDK client in this process.</summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly List<WorkerProcess> _workers = [];
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-bench-");
    private readonly Uri _broker;
    private WorkerProcess _api = null!;
    private IHost _client = null!;
    private IHost _pollingClient = null!;

    private readonly IReadOnlyDictionary<string, string> _workerSettings;

    private readonly IReadOnlyDictionary<string, string> _sharedSettings;

    private Cluster(Uri broker, IReadOnlyDictionary<string, string>? workerSettings, IReadOnlyDictionary<string, string>? sharedSettings)
    {
        _broker = broker;
        _workerSettings = workerSettings ?? new Dictionary<string, string>();
        _sharedSettings = sharedSettings ?? new Dictionary<string, string>();
    }

    public IAiaasClient Client => _client.Services.GetRequiredService<IAiaasClient>();

    /// <summary>A client that learns of completions by polling the API only (no completion events), for the before/after figure.</summary>
    public IAiaasClient PollingClient => _pollingClient.Services.GetRequiredService<IAiaasClient>();
    public WorkerProcess Api => _api;

    /// <summary>The ResultApi's address, for clients that speak plain HTTP (the OpenAI-compatible surface).</summary>
    public Uri ApiUrl { get; private set; } = null!;
    public IReadOnlyList<WorkerProcess> Workers => _workers;

    /// <summary>Where the first worker and the ResultApi serve their metrics without authentication (loopback), for the
    /// per-job profile (<see cref="PathProfile"/>).</summary>
    public int WorkerMetricsPort { get; private set; }

    public int ApiMetricsPort { get; private set; }

    /// <summary>Jobs run through a new cluster before it is measured, at least (<see cref="WarmUpAsync"/>).</summary>
    public const int WarmUpJobs = 9_000;

    /// <summary>At most this many jobs of warm-up, should the worker's JIT never settle.</summary>
    private const int MaxWarmUpJobs = 30_000;

    /// <summary>Starts the ResultApi and <paramref name="workers"/> worker processes; <paramref name="sharedSettings"/> go to the API
    /// and the workers alike (such as the store's encryption), <paramref name="workerSettings"/> to the workers only. The
    /// cluster is warmed up (<see cref="WarmUpAsync"/>) unless <paramref name="warmUp"/> is false.</summary>
    public static async Task<Cluster> StartAsync(Uri broker, int workers, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? workerSettings = null, IReadOnlyDictionary<string, string>? sharedSettings = null,
        bool warmUp = true)
    {
        var cluster = new Cluster(broker, workerSettings, sharedSettings);
        var port = FreePort();
        cluster.ApiUrl = new Uri($"http://127.0.0.1:{port}/");
        cluster.ApiMetricsPort = FreePort();
        cluster._api = WorkerProcess.Start(cluster.Settings(new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["Telemetry__PrometheusListenerPort"] = cluster.ApiMetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging__LogLevel__Default"] = "Warning",
        }), Repository.ResultApiAssembly());
        for (var i = 0; i < workers; i++)
        {
            await cluster.AddWorkerAsync(cancellationToken);
        }

        cluster._client = await StartClientAsync(port, broker, completionEvents: true, cancellationToken);
        cluster._pollingClient = await StartClientAsync(port, broker, completionEvents: false, cancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        while (true)
        {
            try
            {
                if ((await http.GetAsync("health/ready", cancellationToken)).StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200, cancellationToken);
        }

        if (warmUp)
        {
            await cluster.WarmUpAsync(cancellationToken);
        }

        return cluster;
    }

    /// <summary>Runs one-record jobs of a small MLP through the cluster in rounds of 3,000, at least <see cref="WarmUpJobs"/>,
    /// and on until a round compiles fewer than 1 % more methods in the first worker (.NET's <c>dotnet.jit.compiled_methods</c>,
    /// from its metrics listener), <see cref="MaxWarmUpJobs"/> at most: what is measured next is the processes' steady
    /// state. A few hundred jobs (the warm-up before 2026-11-30) left the worker in tiered compilation: perf found the JIT in
    /// 18-40 % of the worker's samples through figure 2's rounds. After 9,000 jobs the worker still compiled about 4,800
    /// methods (3,576 of them at tier 1) during figure 2's measured rounds. A process that serves for hours pays that once;
    /// the figures measure the cost per job that remains.</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var model = MlpModel.CreateRandom(4, [32, 32], 3, Activation.Relu, OutputActivation.Softmax, seed: 99);
        await Client.RegisterModelAsync("warm-up", new MemoryStream(OnnxModelWriter.Write(model)),
            new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 5 }, cancellationToken: cancellationToken);
        var random = new Random(99);
        var rounds = new List<string>();
        var compiled = await CompiledMethodsAsync(cancellationToken);
        for (var done = 0; done < MaxWarmUpJobs; done += 3_000)
        {
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            var ids = await Client.SubmitPredictManyAsync(Enumerable.Range(0, 3_000).Select(_ => new PredictRequest
            {
                Model = "warm-up",
                Features = [.. Enumerable.Range(0, 4).Select(_ => (float)random.NextDouble())],
            }), cancellationToken);
            await Task.WhenAll(ids.Select(id => Client.WaitForCompletionAsync(id, cancellationToken)));
            var rate = 3_000 / stopwatch.Elapsed.TotalSeconds;
            // Tier-1 compilation runs in the background a little after the calls that trigger it.
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            var now = await CompiledMethodsAsync(cancellationToken);
            rounds.Add(FormattableString.Invariant($"{rate:F0} jobs/s +{now - compiled:F0} methods"));
            var settled = now - compiled < compiled * 0.01;
            compiled = now;
            if (done + 3_000 >= WarmUpJobs && settled)
            {
                break;
            }
        }

        Console.WriteLine($"  warm-up, rounds of 3,000 jobs: {string.Join("; ", rounds)}");
    }

    /// <summary>Methods the first worker has compiled so far (0 when its metrics do not say).</summary>
    private async Task<double> CompiledMethodsAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{WorkerMetricsPort}/metrics"), cancellationToken);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("dotnet_jit_compiled_methods", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<IHost> StartClientAsync(int port, Uri broker, bool completionEvents, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = new Uri($"http://127.0.0.1:{port}");
            o.RabbitMqUri = broker;
            o.CompletionEvents = completionEvents;
        });
        var client = builder.Build();
        await client.StartAsync(cancellationToken);
        return client;
    }

    public Task AddWorkerAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>(_workerSettings);
        if (_workers.Count == 0)
        {
            WorkerMetricsPort = FreePort();
            settings["Telemetry__PrometheusListenerPort"] = WorkerMetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        _workers.Add(WorkerProcess.Start(Settings(new Dictionary<string, string>(settings)
        {
            ["Workers__WorkerId"] = $"bench-worker-{_workers.Count + 1}",
            ["Workers__ModelCacheDirectory"] = Path.Combine(_data.FullName, $"models-{_workers.Count + 1}"),
            ["Workers__PrefetchCount"] = "512",
            ["Logging__LogLevel__Default"] = "Warning",
        })));
        // Workers declare their queues and bind within a few seconds; give the new one time to join.
        return Task.Delay(TimeSpan.FromSeconds(4), cancellationToken);
    }

    private Dictionary<string, string> Settings(Dictionary<string, string> extra)
    {
        foreach (var (key, value) in _sharedSettings)
        {
            extra.TryAdd(key, value);
        }

        extra["Transport__RabbitMqUri"] = _broker.ToString();
        extra["Store__Kind"] = "Embedded";
        extra["Store__EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db");
        extra["MASSTRANSIT_USAGE_TELEMETRY"] = "false";
        extra["Telemetry__PrometheusListenerHost"] = "127.0.0.1";
        return extra;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _client.StopAsync();
        _client.Dispose();
        await _pollingClient.StopAsync();
        _pollingClient.Dispose();
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }

        await _api.DisposeAsync();
        _data.Delete(recursive: true);
    }
}
