using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Store.Tests;

/// <summary>
/// The store's concerns as the application gets them: <see cref="StoreServiceCollectionExtensions.AddAiaasStore"/> over one
/// backend, configured as a deployment would configure it. Disposing it disposes the backend's connection owner.
/// </summary>
public sealed class StoreServices : IDisposable
{
    private readonly ServiceProvider _provider;

    private StoreServices(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddAiaasStore();
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static StoreServices Embedded(string path, byte[]? masterKey = null) => new(new()
    {
        ["Store:Kind"] = "Embedded",
        ["Store:EmbeddedPath"] = path,
        ["Store:Encryption:Enabled"] = masterKey is null ? "false" : "true",
        ["Store:Encryption:MasterKey"] = masterKey is null ? null : Convert.ToBase64String(masterKey),
    });

    public static StoreServices Mongo(string connectionString, string databaseName) => new(new()
    {
        ["Store:Kind"] = "MongoDb",
        ["Store:MongoConnectionString"] = connectionString,
        ["Store:MongoDatabase"] = databaseName,
    });

    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    public IJobStore Jobs => Get<IJobStore>();
    public IModelStore Models => Get<IModelStore>();
    public IStoreHealth Health => Get<IStoreHealth>();
    public ITrainingQueue TrainingQueue => Get<ITrainingQueue>();
    public IJobEventStore Events => Get<IJobEventStore>();
    public IDatasetStore Datasets => Get<IDatasetStore>();
    public IBulkStore Bulk => Get<IBulkStore>();
    public ITenantStore Tenants => Get<ITenantStore>();
    public IWebhookStore Webhooks => Get<IWebhookStore>();
    public IRetentionStore Retention => Get<IRetentionStore>();

    public void Dispose() => _provider.Dispose();
}
