using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Producer;

/// <summary>
/// An <see cref="IAiaasClient"/> for a program without a generic host (a console tool, a script, a test): the services
/// <see cref="AiaasClientServiceCollectionExtensions.AddAiaasClient"/> registers, started, and stopped on dispose. In a host,
/// use <c>services.AddAiaasClient(...)</c> instead.
/// </summary>
/// <example><code>
/// await using var aiaas = await StandaloneAiaasClient.StartAsync(o =&gt;
/// {
///     o.ApiUrl = new Uri("https://aiaas.example.com");
///     o.ApiKey = Environment.GetEnvironmentVariable("AIAAS_API_KEY");
/// });
/// var id = await aiaas.Client.SubmitPredictAsync(new PredictRequest { Model = "iris", Features = [5.1f, 3.5f, 1.4f, 0.2f] });
/// </code></example>
public sealed class StandaloneAiaasClient : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _started;

    private StandaloneAiaasClient(ServiceProvider services, IHostedService[] started) =>
        (_services, _started, Client) = (services, started, services.GetRequiredService<IAiaasClient>());

    /// <summary>The client; valid until this is disposed.</summary>
    public IAiaasClient Client { get; }

    /// <summary>Builds the client from <paramref name="configure"/> and starts what it runs in the background (its broker
    /// connection, when <see cref="AiaasClientOptions.RabbitMqUri"/> is set). With only <see cref="AiaasClientOptions.ApiUrl"/>
    /// (and a key), it submits over HTTP and needs no broker.</summary>
    public static async Task<StandaloneAiaasClient> StartAsync(Action<AiaasClientOptions> configure, CancellationToken cancellationToken = default)
    {
        var services = new ServiceCollection().AddLogging().AddAiaasClient(configure).BuildServiceProvider();
        var started = new List<IHostedService>();
        try
        {
            foreach (var hosted in services.GetServices<IHostedService>())
            {
                await hosted.StartAsync(cancellationToken).ConfigureAwait(false);
                started.Add(hosted);
            }
        }
        catch
        {
            await StopAsync(started, services).ConfigureAwait(false);
            throw;
        }

        return new StandaloneAiaasClient(services, [.. started]);
    }

    /// <summary>Stops the background work (closing the broker connection) and releases the client.</summary>
    public ValueTask DisposeAsync() => StopAsync(_started, _services);

    private static async ValueTask StopAsync(IEnumerable<IHostedService> started, ServiceProvider services)
    {
        foreach (var hosted in started.Reverse())
        {
            await hosted.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await services.DisposeAsync().ConfigureAwait(false);
    }
}
