using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// Three worker processes, the ResultApi and an SDK client, all reaching the broker through a <see cref="BrokerProxy"/>
/// so that the suite can take the broker away from them without restarting the broker other test classes share.
/// </summary>
public sealed class FaultSystem : DistributedSystem
{
    public const int Prefetch = 32;

    private BrokerProxy? _proxy;

    internal BrokerProxy Proxy => _proxy ?? throw new InvalidOperationException("The fixture is not initialised.");

    protected override int WorkerCount => 3;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PrefetchCount"] = Prefetch.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    // Through the proxy; the acknowledgements of job messages delivered from the predict queue are tracked.
    protected override Task<Uri> ConnectBrokerAsync(CancellationToken cancellationToken) => Task.FromResult(
        (_proxy ??= BrokerProxy.Start(Broker.Uri, "predict-jobs")).Through(Broker.Uri));

    // Short enough that some submits made during the broker outage outlast it, so the suite sees visible failures too.
    protected override void ConfigureClientOptions(AiaasClientOptions options) => options.PublishTimeout = TimeSpan.FromSeconds(4);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}
