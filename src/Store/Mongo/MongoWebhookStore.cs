using AIaaS.Queue.Contracts;
using MongoDB.Bson;
using MongoDB.Driver;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

// Webhook deliveries in collection "webhook_deliveries": _id is the webhook-id, attempts an embedded array.
public sealed class MongoWebhookStore(MongoDatabaseContext context) : IWebhookStore
{



    public async Task ScheduleWebhooksAsync(IReadOnlyCollection<WebhookDelivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        if (deliveries.Count == 0)
        {
            return;
        }

        await context.EnsureIndexesAsync(cancellationToken);

        // Upserts that only set on insert: an existing delivery (a redelivered completion event) stays as it is.
        var writes = deliveries.Select(d => new UpdateOneModel<BsonDocument>(
            Doc.Eq("_id", d.Id),
            DocUpdate.Combine(
                DocUpdate.SetOnInsert("jobId", Id(d.JobId)),
                DocUpdate.SetOnInsert("eventType", d.EventType),
                DocUpdate.SetOnInsert("url", d.Url),
                DocUpdate.SetOnInsert<BsonValue>("tenantId", d.TenantId is { } tenant ? new BsonString(tenant) : BsonNull.Value),
                DocUpdate.SetOnInsert("payload", d.Payload),
                DocUpdate.SetOnInsert("createdAt", d.CreatedAt.UtcTicks),
                DocUpdate.SetOnInsert("nextAttemptAt", d.NextAttemptAt.UtcTicks),
                DocUpdate.SetOnInsert("state", d.State.ToString()),
                DocUpdate.SetOnInsert("attempts", new BsonArray(d.Attempts.Select(ToBson)))))
        { IsUpsert = true }).ToList();
        await context.Webhooks.BulkWriteAsync(writes, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ClaimDueWebhooksAsync(DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var claimed = new List<WebhookDelivery>();
        var until = (now + lease).UtcTicks;

        // One atomic find-and-modify per delivery: competing senders never claim the same one.
        while (claimed.Count < limit)
        {
            var document = await context.Webhooks.FindOneAndUpdateAsync(
                Doc.And(Doc.Eq("state", nameof(WebhookDeliveryState.Pending)), Doc.Lte("nextAttemptAt", now.UtcTicks)),
                DocUpdate.Set("nextAttemptAt", until),
                new FindOneAndUpdateOptions<BsonDocument>
                {
                    Sort = Builders<BsonDocument>.Sort.Ascending("nextAttemptAt"),
                    ReturnDocument = ReturnDocument.After,
                },
                cancellationToken);
            if (document is null)
            {
                break;
            }

            claimed.Add(FromBson(document));
        }

        return claimed;
    }

    public async Task RecordWebhookAttemptAsync(string deliveryId, WebhookAttemptView attempt, WebhookDeliveryState state,
        DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        await context.EnsureIndexesAsync(cancellationToken);
        await context.Webhooks.UpdateOneAsync(Doc.Eq("_id", deliveryId),
            DocUpdate.Combine(
                DocUpdate.Push("attempts", ToBson(attempt)),
                DocUpdate.Set("state", state.ToString()),
                DocUpdate.Set("nextAttemptAt", nextAttemptAt.UtcTicks)),
            cancellationToken: cancellationToken);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListWebhooksAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.Webhooks.Find(DocKeyIs(tenantId, jobId))
            .Sort(Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id"))
            .ToListAsync(cancellationToken);
        return documents.Select(FromBson).ToList();
    }

    public async Task<DateTimeOffset?> NextWebhookDueAsync(CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var first = await context.Webhooks.Find(Doc.Eq("state", nameof(WebhookDeliveryState.Pending)))
            .Sort(Builders<BsonDocument>.Sort.Ascending("nextAttemptAt"))
            .Project(Builders<BsonDocument>.Projection.Include("nextAttemptAt"))
            .FirstOrDefaultAsync(cancellationToken);
        return first is null ? null : new DateTimeOffset(first["nextAttemptAt"].AsInt64, TimeSpan.Zero);
    }

    private static BsonDocument ToBson(WebhookAttemptView attempt) => new()
    {
        ["number"] = attempt.Number,
        ["at"] = attempt.At.UtcTicks,
        ["statusCode"] = attempt.StatusCode is { } code ? code : BsonNull.Value,
        ["latencyMs"] = attempt.LatencyMilliseconds,
        ["error"] = attempt.Error is { } error ? error : BsonNull.Value,
    };

    private static WebhookDelivery FromBson(BsonDocument d) => new()
    {
        Id = d["_id"].AsString,
        JobId = d["jobId"].AsBsonBinaryData.ToGuid(GuidRepresentation.Standard),
        EventType = d["eventType"].AsString,
        Url = d["url"].AsString,
        TenantId = d.GetValue("tenantId", BsonNull.Value) is { IsBsonNull: false } tenant ? tenant.AsString : null,
        Payload = d["payload"].AsString,
        CreatedAt = new DateTimeOffset(d["createdAt"].AsInt64, TimeSpan.Zero),
        NextAttemptAt = new DateTimeOffset(d["nextAttemptAt"].AsInt64, TimeSpan.Zero),
        State = Enum.Parse<WebhookDeliveryState>(d["state"].AsString),
        Attempts = d["attempts"].AsBsonArray.Select(a => a.AsBsonDocument).Select(a => new WebhookAttemptView
        {
            Number = a["number"].AsInt32,
            At = new DateTimeOffset(a["at"].AsInt64, TimeSpan.Zero),
            StatusCode = a["statusCode"].IsBsonNull ? null : a["statusCode"].AsInt32,
            LatencyMilliseconds = a["latencyMs"].ToDouble(),
            Error = a["error"].IsBsonNull ? null : a["error"].AsString,
        }).ToList(),
    };
}
