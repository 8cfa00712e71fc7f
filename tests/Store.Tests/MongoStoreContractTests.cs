using MongoDB.Driver;
using Testcontainers.MongoDb;

namespace AIaaS.Queue.Store.Tests;

public sealed class MongoJobStoreContractTests(MongoStoreFixture fixture) : JobStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoStoreHealthContractTests(MongoStoreFixture fixture) : StoreHealthContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoModelStoreContractTests(MongoStoreFixture fixture) : ModelStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoTrainingQueueContractTests(MongoStoreFixture fixture) : TrainingQueueContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoJobEventStoreContractTests(MongoStoreFixture fixture) : JobEventStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoDatasetStoreContractTests(MongoStoreFixture fixture) : DatasetStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoBulkStoreContractTests(MongoStoreFixture fixture) : BulkStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoTenantStoreContractTests(MongoStoreFixture fixture) : TenantStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoWebhookStoreContractTests(MongoStoreFixture fixture) : WebhookStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

public sealed class MongoRetentionStoreContractTests(MongoStoreFixture fixture) : RetentionStoreContractTests, IClassFixture<MongoStoreFixture>
{
    protected override StoreServices Store => fixture.GetStore();
}

/// <summary>
/// MongoDB from <c>AIAAS_TEST_MONGO</c> (a connection string), else from a container when Docker is reachable.
/// Each run gets its own database, dropped afterwards. Without either, every test is skipped with the reason.
/// </summary>
public sealed class MongoStoreFixture : IAsyncLifetime
{
    public const string ConnectionStringVariable = "AIAAS_TEST_MONGO";
    public const string SkipReason =
        "MongoDB not available: set AIAAS_TEST_MONGO to a connection string or run where Docker is available";

    private readonly string _databaseName = $"aiaas_test_{Guid.NewGuid():N}";
    private MongoDbContainer? _container;
    private MongoClient? _client;
    private StoreServices? _store;

    public StoreServices GetStore()
    {
        if (_store is null)
        {
            Assert.Skip(SkipReason);
        }

        return _store;
    }

    public async ValueTask InitializeAsync()
    {
        var connectionString = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            connectionString = await TryStartContainerAsync();
        }

        if (connectionString is null)
        {
            return;
        }

        _client = new MongoClient(connectionString);
        _store = StoreServices.Mongo(connectionString, _databaseName);
    }

    private async Task<string?> TryStartContainerAsync()
    {
        // Cheap look first: without an engine, Testcontainers would spend seconds finding that out.
        var dockerLikely = Environment.GetEnvironmentVariable("DOCKER_HOST") is not null
            || File.Exists("/var/run/docker.sock")
            || OperatingSystem.IsWindows();
        if (!dockerLikely)
        {
            return null;
        }

        MongoDbContainer? container = null;
        try
        {
            // Build() already looks for the engine and throws when there is none.
            container = new MongoDbBuilder("mongo:8.0").Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await container.StartAsync(timeout.Token);
            _container = container;
            return container.GetConnectionString();
        }
        catch (Exception)
        {
            // An engine that cannot be reached or cannot run the container counts as no Docker.
            if (container is not null)
            {
                await container.DisposeAsync();
            }

            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _client.DropDatabaseAsync(_databaseName, timeout.Token);
            }
            finally
            {
                _store?.Dispose();
                _client.Dispose();
            }
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
