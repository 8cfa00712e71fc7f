using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for the webhook delivery schedule (<see cref="IWebhookStore"/>). Deliveries that should not be claimed by another test are scheduled far in the future; the claim tests use times long past and look only at their own job.</summary>
public abstract class WebhookStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task AWebhookDeliveryIsScheduledOnceAndRoundTripsWithItsAttempts()
    {
        var jobId = Guid.CreateVersion7();
        var delivery = NewDelivery(jobId, "job.succeeded", FarFuture) with { TenantId = "acme" };
        await Webhooks.ScheduleWebhooksAsync([delivery], Ct);
        await Webhooks.ScheduleWebhooksAsync([delivery with { Url = "https://other.test/", Payload = "{}" }], Ct);

        var stored = Assert.Single(await Webhooks.ListWebhooksAsync("acme", jobId, Ct));
        Assert.Empty(await Webhooks.ListWebhooksAsync("globex", jobId, Ct));
        Assert.Equal((delivery.Id, delivery.Url, delivery.Payload, delivery.EventType, delivery.TenantId),
            (stored.Id, stored.Url, stored.Payload, stored.EventType, stored.TenantId));
        Assert.Equal((delivery.CreatedAt, delivery.NextAttemptAt, WebhookDeliveryState.Pending), (stored.CreatedAt, stored.NextAttemptAt, stored.State));
        Assert.Empty(stored.Attempts);

        var first = new WebhookAttemptView { Number = 1, At = FarFuture.AddTicks(7), StatusCode = 503, LatencyMilliseconds = 12.5, Error = "HTTP 503" };
        var second = new WebhookAttemptView { Number = 2, At = FarFuture.AddSeconds(3), LatencyMilliseconds = 5000, Error = "timed out" };
        await Webhooks.RecordWebhookAttemptAsync(delivery.Id, first, WebhookDeliveryState.Pending, FarFuture.AddSeconds(2), Ct);
        await Webhooks.RecordWebhookAttemptAsync(delivery.Id, second, WebhookDeliveryState.Failed, FarFuture.AddSeconds(3), Ct);

        stored = Assert.Single(await Webhooks.ListWebhooksAsync("acme", jobId, Ct));
        Assert.Equal(WebhookDeliveryState.Failed, stored.State);
        Assert.Equal([first, second], stored.Attempts);
        Assert.Empty(await Webhooks.ListWebhooksAsync("acme", Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task DueWebhooksAreClaimedOnceUntilTheirLeaseRunsOutAndFinishedOnesNeverAgain()
    {
        var jobId = Guid.CreateVersion7();
        var past = new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(1, 100_000));
        var due = NewDelivery(jobId, "job.succeeded", past);
        var later = NewDelivery(jobId, "job.failed", past.AddHours(1));
        await Webhooks.ScheduleWebhooksAsync([due, later], Ct);

        var claimed = (await Webhooks.ClaimDueWebhooksAsync(past.AddMinutes(1), TimeSpan.FromMinutes(5), 100, Ct)).Where(d => d.JobId == jobId).ToList();
        Assert.Equal([due.Id], claimed.Select(d => d.Id));
        Assert.Equal(past.AddMinutes(6), claimed[0].NextAttemptAt);
        Assert.DoesNotContain(await Webhooks.ClaimDueWebhooksAsync(past.AddMinutes(2), TimeSpan.FromMinutes(5), 100, Ct), d => d.JobId == jobId);

        // The lease ran out (its sender died): the delivery is due again, for anyone.
        var again = await Webhooks.ClaimDueWebhooksAsync(past.AddMinutes(7), TimeSpan.FromMinutes(5), 100, Ct);
        Assert.Contains(again, d => d.Id == due.Id);

        await Webhooks.RecordWebhookAttemptAsync(due.Id, new WebhookAttemptView { Number = 1, At = past, StatusCode = 200, LatencyMilliseconds = 1 },
            WebhookDeliveryState.Delivered, past, Ct);
        var afterDone = await Webhooks.ClaimDueWebhooksAsync(past.AddHours(2), TimeSpan.FromMinutes(5), 100, Ct);
        Assert.DoesNotContain(afterDone, d => d.Id == due.Id);
        Assert.Contains(afterDone, d => d.Id == later.Id);
        Assert.NotNull(await Webhooks.NextWebhookDueAsync(Ct));
    }
}
