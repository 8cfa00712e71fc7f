using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Consumers;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The predict consumer and the dynamic batcher behind it, started under MassTransit's in-memory test harness on
/// the embedded store in a temporary folder of its own, which disposing removes.</summary>
internal sealed class WorkerHarness : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"aiaas-workers-tests-{Guid.NewGuid():N}");

    private WorkerHarness()
    {
    }

    public ServiceProvider Services { get; private set; } = null!;

    public ITestHarness Harness { get; private set; } = null!;

    /// <param name="configureBus">More configuration of the in-memory bus (a publish filter), before its endpoints.</param>
    /// <param name="settings">Configuration beyond the harness's own (a worker option).</param>
    /// <param name="services">Registrations made before the worker's own, which then keep them (a store of the test's).</param>
    public static async Task<WorkerHarness> StartAsync(Action<IInMemoryBusFactoryConfigurator>? configureBus = null,
        IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var worker = new WorkerHarness();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Store:EmbeddedPath"] = Path.Combine(worker._folder, "aiaas.db"),
            ["Workers:ModelCacheDirectory"] = Path.Combine(worker._folder, "models"),
            ["Training:Enabled"] = "false",
        }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddSingleton<IConfiguration>(configuration);
        collection.AddLogging();
        collection.AddMetrics();
        collection.AddSingleton<AiaasMetrics>();
        collection.AddSingleton<IHostApplicationLifetime, TestLifetime>();
        collection.AddAiaasStore();
        collection.AddWorkerServices();
        collection.AddMassTransitTestHarness(x =>
        {
            x.AddConsumer<PredictJobConsumer, PredictJobConsumerDefinition>();
            x.UsingInMemory((context, bus) =>
            {
                configureBus?.Invoke(bus);
                bus.ConfigureEndpoints(context);
            });
        });
        worker.Services = collection.BuildServiceProvider(validateScopes: true);
        worker.Harness = worker.Services.GetRequiredService<ITestHarness>();
        worker.Harness.TestTimeout = Wait;
        await worker.Harness.Start();
        return worker;
    }

    /// <summary>Registers <paramref name="onnx"/> as the first version of <paramref name="name"/> in the harness's store, with
    /// the inputs and outputs the file declares.</summary>
    public async Task RegisterModelAsync(string name, byte[] onnx, BatchingSettings batching, CancellationToken cancellationToken)
    {
        var signature = OnnxModelInspector.Inspect(onnx);
        using var file = new MemoryStream(onnx);
        await Services.GetRequiredService<IModelStore>().AddVersionAsync(new NewModelVersion
        {
            Name = name,
            Inputs = signature.Inputs,
            Outputs = signature.Outputs,
            Batching = batching,
        }, file, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await Services.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class TestLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
