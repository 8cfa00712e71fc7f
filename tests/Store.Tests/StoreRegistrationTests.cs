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
    public async Task EmbeddedIsTheDefaultAndOneInstanceServesAllThreeInterfaces()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-registration-{Guid.NewGuid():N}");
        var path = Path.Combine(directory, "missing", "aiaas.db");
        try
        {
            using (var host = BuildHost(new() { ["Store:EmbeddedPath"] = path }))
            {
                await host.StartAsync(Ct);

                var jobs = host.Services.GetRequiredService<IJobStore>();
                Assert.IsType<SqliteStore>(jobs);
                Assert.Same(jobs, host.Services.GetRequiredService<IModelStore>());
                Assert.Same(jobs, host.Services.GetRequiredService<IStoreHealth>());
                Assert.Same(jobs, host.Services.GetRequiredService<IBulkStore>());

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

        Assert.IsType<SqliteStore>(embedded.Services.GetRequiredService<IJobStore>());
        Assert.IsType<MongoStore>(mongo.Services.GetRequiredService<IJobStore>());
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
