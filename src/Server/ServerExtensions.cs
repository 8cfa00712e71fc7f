using AIaaS.Queue.ResultApi;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Workers;

namespace AIaaS.Queue.Server;

public static class ServerExtensions
{
    /// <summary>The ResultApi and, on the embedded default or when <c>ResultApi:HostWorkers</c> says so, the workers in
    /// the same process on the same bus.</summary>
    public static WebApplicationBuilder AddAiaasServer(this WebApplicationBuilder builder)
    {
        var hostWorkers = builder.Configuration.GetValue<bool?>($"{ResultApiOptions.SectionName}:{nameof(ResultApiOptions.HostWorkers)}")
            ?? builder.Configuration.GetTransportOptions().EffectiveKind == TransportKind.InMemory;
        return builder.AddResultApi(hostWorkers
            ? new CoHostedWorkers(services => services.AddWorkerServices(), bus => bus.AddWorkerConsumers(builder.Configuration))
            : null);
    }
}
