namespace AIaaS.Queue.Integration.Tests.Infrastructure;

// The broker class is shared with the benchmarks, which have no xunit; only the tests make it a fixture.
public sealed partial class RabbitMqBroker : IAsyncLifetime;
