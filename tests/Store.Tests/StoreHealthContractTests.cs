namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises its readiness probe (<see cref="IStoreHealth"/>).</summary>
public abstract class StoreHealthContractTests : StoreContractTests
{
    [Fact]
    public async Task PingAnswersWhenTheStoreIsUp()
    {
        await Health.PingAsync(Ct);
    }
}
