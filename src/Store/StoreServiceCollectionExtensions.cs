using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Store;

public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the store chosen by the "Store" configuration section: its connection owner once, as a singleton, and each
    /// concern (<see cref="IJobStore"/>, <see cref="IModelStore"/>, <see cref="ITrainingQueue"/>, ...) as a singleton of its
    /// own over it; validates the options at start-up, and adds a health check named "store" tagged "ready".
    /// </summary>
    public static IServiceCollection AddAiaasStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        // A second call would add a second "store" health check, which HealthCheckService rejects.
        if (services.Any(d => d.ImplementationType == typeof(StoreOptionsValidator)))
        {
            return services;
        }

        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StoreOptions>, StoreOptionsValidator>());

        // One connection and transaction owner per backend, shared by every concern of the store; only the chosen one is made.
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            return new SqliteDatabase(options.EmbeddedPath, sp.GetService<TimeProvider>(), options.EmbeddedDurability, MasterKeys(sp, options));
        });
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StoreOptions>>().Value;
            return new MongoDatabaseContext(
                options.MongoConnectionString ?? throw new InvalidOperationException("Store:MongoConnectionString is not set."),
                options.MongoDatabase,
                sp.GetService<TimeProvider>());
        });

        AddConcern<IJobStore>(services, db => new SqliteJobStore(db), db => new MongoJobStore(db));
        AddConcern<IModelStore>(services, db => new SqliteModelStore(db), db => new MongoModelStore(db));
        AddConcern<IStoreHealth>(services, db => new SqliteStoreHealth(db), db => new MongoStoreHealth(db));
        AddConcern<ITrainingQueue>(services, db => new SqliteTrainingQueue(db), db => new MongoTrainingQueue(db));
        AddConcern<IJobEventStore>(services, db => new SqliteJobEventStore(db), db => new MongoJobEventStore(db));
        AddConcern<IDatasetStore>(services, db => new SqliteDatasetStore(db), db => new MongoDatasetStore(db));
        AddConcern<IWebhookStore>(services, db => new SqliteWebhookStore(db), db => new MongoWebhookStore(db));
        AddConcern<IBulkStore>(services, db => new SqliteBulkStore(db), db => new MongoBulkStore(db));
        AddConcern<ITenantStore>(services, db => new SqliteTenantStore(db), db => new MongoTenantStore(db));
        AddConcern<IRetentionStore>(services, db => new SqliteRetentionStore(db), db => new MongoRetentionStore(db));

        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        return services;
    }

    /// <summary>With encryption on, the master keys: a key service registered as <see cref="IMasterKeys"/> before this
    /// call, else those of the configuration (current and retired).</summary>
    private static IMasterKeys? MasterKeys(IServiceProvider services, StoreOptions options) => options.Encryption.Enabled
        ? services.GetService<IMasterKeys>() ?? options.Encryption.ReadMasterKeys()
        : null;

    /// <summary>Registers one concern of the store as a singleton of the backend that the options choose.</summary>
    private static void AddConcern<TService>(IServiceCollection services, Func<SqliteDatabase, TService> embedded, Func<MongoDatabaseContext, TService> mongo)
        where TService : class =>
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<StoreOptions>>().Value.Kind switch
        {
            StoreKind.Embedded => embedded(sp.GetRequiredService<SqliteDatabase>()),
            StoreKind.MongoDb => mongo(sp.GetRequiredService<MongoDatabaseContext>()),
            var kind => throw new InvalidOperationException($"Unknown store kind '{kind}'."),
        });
}
