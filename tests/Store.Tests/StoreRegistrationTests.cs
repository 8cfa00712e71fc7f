using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Store.Tests;

public sealed class StoreRegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EmbeddedIsTheDefaultAndEachConcernIsItsOwnObjectOverOneDatabase()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-registration-{Guid.NewGuid():N}");
        var path = Path.Combine(directory, "missing", "aiaas.db");
        try
        {
            using (var host = BuildHost(new() { ["Store:EmbeddedPath"] = path }))
            {
                await host.StartAsync(Ct);

                var services = host.Services;
                Assert.IsType<SqliteJobStore>(services.GetRequiredService<IJobStore>());
                Assert.IsType<SqliteModelStore>(services.GetRequiredService<IModelStore>());
                Assert.IsType<SqliteStoreHealth>(services.GetRequiredService<IStoreHealth>());
                Assert.IsType<SqliteTrainingQueue>(services.GetRequiredService<ITrainingQueue>());
                Assert.IsType<SqliteJobEventStore>(services.GetRequiredService<IJobEventStore>());
                Assert.IsType<SqliteDatasetStore>(services.GetRequiredService<IDatasetStore>());
                Assert.IsType<SqliteBulkStore>(services.GetRequiredService<IBulkStore>());
                Assert.IsType<SqliteTenantStore>(services.GetRequiredService<ITenantStore>());
                Assert.IsType<SqliteWebhookStore>(services.GetRequiredService<IWebhookStore>());
                Assert.IsType<SqliteRetentionStore>(services.GetRequiredService<IRetentionStore>());
                Assert.Same(services.GetRequiredService<IJobStore>(), services.GetRequiredService<IJobStore>());
                Assert.Equal(Path.GetFullPath(path), services.GetRequiredService<SqliteDatabase>().DatabasePath);

                var report = await host.Services.GetRequiredService<HealthCheckService>()
                    .CheckHealthAsync(check => check.Tags.Contains("ready"), Ct);
                Assert.Equal(HealthStatus.Healthy, Assert.Contains("store", report.Entries).Status);
                Assert.True(File.Exists(path));

                await host.StopAsync(Ct);
            }
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task MongoDbKindWithoutAConnectionStringFailsAtStartUp()
    {
        using var host = BuildHost(new() { ["Store:Kind"] = "MongoDb" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));
        Assert.Contains("MongoConnectionString", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KindDecidesEvenWhenAConnectionStringIsSet()
    {
        var path = Path.Combine(Path.GetTempPath(), $"aiaas-registration-{Guid.NewGuid():N}", "aiaas.db");
        using var embedded = BuildHost(new()
        {
            ["Store:EmbeddedPath"] = path,
            ["Store:MongoConnectionString"] = "mongodb://localhost:1",
        });
        using var mongo = BuildHost(new()
        {
            ["Store:Kind"] = "MongoDb",
            ["Store:MongoConnectionString"] = "mongodb://localhost:1",
        });

        Assert.IsType<SqliteJobStore>(embedded.Services.GetRequiredService<IJobStore>());
        Assert.IsType<MongoJobStore>(mongo.Services.GetRequiredService<IJobStore>());
        Assert.IsType<MongoTrainingQueue>(mongo.Services.GetRequiredService<ITrainingQueue>());
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
    }

    [Fact]
    public void CallingAddAiaasStoreTwiceRegistersOneHealthCheck()
    {
        var services = new ServiceCollection().AddAiaasStore().AddAiaasStore();
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value;
        Assert.Single(options.Registrations, r => r.Name == "store");
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddAiaasStore();
        return builder.Build();
    }
}
