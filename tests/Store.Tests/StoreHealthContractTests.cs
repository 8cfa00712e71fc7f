using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

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
