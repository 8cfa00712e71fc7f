using MassTransit;

namespace AIaaS.Queue.ResultApi;

/// <summary>Workers that share the ResultApi's process and bus: what the Server adds on the embedded default and the
/// single-process deployment. The ResultApi itself knows nothing of the workers.</summary>
/// <param name="AddServices">The workers' services, added before the bus so that they stop after it.</param>
/// <param name="AddConsumers">The workers' consumers, added to the bus.</param>
public sealed record CoHostedWorkers(Action<IServiceCollection> AddServices, Action<IBusRegistrationConfigurator> AddConsumers);
