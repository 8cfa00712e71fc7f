using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Store;

public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the store chosen by the "Store" configuration section as one singleton serving
    /// <see cref="IJobStore"/>, <see cref="IModelStore"/> and <see cref="IStoreHealth"/>, validates the options at
    /// start-up, and adds a health check named "store" tagged "ready".
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

        services.TryAddSingleton(sp => CreateStore(
            sp.GetRequiredService<IOptions<StoreOptions>>().Value,
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton(sp => (IModelStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IStoreHealth)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (ITrainingQueue)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IJobEventStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IDatasetStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IWebhookStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IBulkStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (ITenantStore)sp.GetRequiredService<IJobStore>());
        services.TryAddSingleton(sp => (IRetentionStore)sp.GetRequiredService<IJobStore>());

        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: ["ready"]);
        return services;
    }

    private static IJobStore CreateStore(StoreOptions options, TimeProvider? timeProvider) => options.Kind switch
    {
        StoreKind.Embedded => new SqliteStore(options.EmbeddedPath, timeProvider, options.EmbeddedDurability, options.Encryption.ReadMasterKey()),
        StoreKind.MongoDb => new MongoStore(
            options.MongoConnectionString ?? throw new InvalidOperationException("Store:MongoConnectionString is not set."),
            options.MongoDatabase,
            timeProvider),
        _ => throw new InvalidOperationException($"Unknown store kind '{options.Kind}'."),
    };
}
