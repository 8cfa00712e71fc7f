using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for job event histories (<see cref="IJobEventStore"/>).</summary>
public abstract class JobEventStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task JobEventsAreNumberedInOrderAndReadAfterASequenceNumber()
    {
        var jobId = Guid.NewGuid();
        await Events.AppendJobEventsAsync(Tenants.DefaultTenantId, jobId, [.. Enumerable.Range(1, 3).Select(i => Epoch(i))], Ct);
        await Events.AppendJobEventsAsync(Tenants.DefaultTenantId, jobId, [Epoch(4), new JobEventView { Sequence = 0, Type = "succeeded", At = DateTimeOffset.UtcNow, Message = "ä \"ok\"" }], Ct);

        var all = await Events.ListJobEventsAsync(Tenants.DefaultTenantId, jobId, 0, 100, Ct);
        Assert.Equal([1L, 2, 3, 4, 5], all.Select(e => e.Sequence));
        Assert.Equal([1, 2, 3, 4], all.Take(4).Select(e => e.Epoch!.Value));
        Assert.Equal(0.25, all[1].ValidationAccuracy);
        Assert.Equal("ä \"ok\"", all[4].Message);
        Assert.Equal([4L, 5], (await Events.ListJobEventsAsync(Tenants.DefaultTenantId, jobId, 3, 100, Ct)).Select(e => e.Sequence));
        Assert.Empty(await Events.ListJobEventsAsync(Tenants.DefaultTenantId, Guid.NewGuid(), 0, 100, Ct));

        static JobEventView Epoch(int i) => new()
        {
            Sequence = 0, Type = "epoch", At = DateTimeOffset.UtcNow, Epoch = i, Epochs = 4, TrainLoss = 1.0 / i,
            ValidationLoss = 2.0 / i, ValidationAccuracy = i * 0.125, LearningRate = 0.01, ElapsedSeconds = i,
        };
    }
}
