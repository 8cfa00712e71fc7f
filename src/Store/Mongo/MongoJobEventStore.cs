using System.Text.Json;
using AIaaS.Queue.Contracts;
using MongoDB.Bson;
using MongoDB.Driver;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>The distributed store's job events in "job_events" (unique on job and sequence), each stored as a JSON string:
/// read and written whole, never queried field by field.</summary>
public sealed class MongoJobEventStore(MongoDatabaseContext context) : IJobEventStore
{
    public async Task AppendJobEventsAsync(string tenantId, Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        await context.EnsureIndexesAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var last = await context.Events.Find(DocKeyIs(tenantId, jobId)).Sort(Builders<BsonDocument>.Sort.Descending("seq")).Limit(1)
                .FirstOrDefaultAsync(cancellationToken);
            var next = last is null ? 1L : last["seq"].ToInt64() + 1;
            var documents = events.Select((e, i) =>
            {
                var numbered = e with { Sequence = next + i };
                return new BsonDocument
                {
                    ["tenantId"] = tenantId,
                    ["jobId"] = Id(jobId),
                    ["seq"] = numbered.Sequence,
                    ["body"] = JsonSerializer.Serialize(numbered, StoreJson.Options),
                };
            }).ToList();
            try
            {
                // Ordered: a race on one number stops at the first duplicate, and the batch is numbered again.
                await context.Events.InsertManyAsync(documents, new InsertManyOptions { IsOrdered = true }, cancellationToken);
                return;
            }
            catch (MongoBulkWriteException<BsonDocument> ex) when (attempt < 20
                && ex.WriteErrors.All(w => w.Category == ServerErrorCategory.DuplicateKey) && ex.WriteErrors.Count > 0 && ex.WriteErrors[0].Index == 0)
            {
            }
        }
    }

    public async Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(string tenantId, Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.Events.Find(Doc.And(DocKeyIs(tenantId, jobId), Doc.Gt("seq", afterSequence)))
            .Sort(Builders<BsonDocument>.Sort.Ascending("seq")).Limit(Math.Clamp(limit, 1, 10_000)).ToListAsync(cancellationToken);
        return documents.ConvertAll(d => JsonSerializer.Deserialize<JobEventView>(d["body"].AsString, StoreJson.Options)!);
    }
}
