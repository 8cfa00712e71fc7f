using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

// Retention on MongoDB: the same bounded batches as the embedded store (find at most `limit` ids through an index, then
// one multi-document write by _id), because retention periods are per tenant and per kind and change with configuration.
// A TTL index has one expireAfterSeconds for every document it covers, so it would need an index per tenant and kind (a
// collection holds at most 64) and a rebuild at each change of a period; and it deletes whole documents, where a payload
// sweep must keep a tombstone. Space freed by deletes is reused by WiredTiger; giving it back to the file system is the
// operator's `compact`, not something to run from a sweeper.
public sealed class MongoRetentionStore(MongoDatabaseContext context) : IRetentionStore
{
    private const string SweepReportName = "retention";

    private static readonly BsonArray FinalJobStatuses = new(JobStoreRules.FinalStatuses.Select(s => s.ToString()));

    private static readonly BsonArray FinalBulkStatuses = new(BulkStoreRules.FinalStatuses.Select(s => s.ToString()));



    public async Task<bool> TryAcquireLeaseAsync(string name, string owner, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        await context.EnsureIndexesAsync(cancellationToken);
        var now = context.Time.GetUtcNow();
        try
        {
            // Matches only a lease this owner holds or one that ran out; when another owner holds it, the upsert's insert
            // collides with the existing _id, which is the answer "no".
            await context.Leases.FindOneAndUpdateAsync(
                Doc.And(Doc.Eq("_id", name), Doc.Or(Doc.Eq("owner", owner), Doc.Lte("until", now.UtcTicks))),
                Builders<BsonDocument>.Update.Set("owner", owner).Set("until", (now + duration).UtcTicks),
                new FindOneAndUpdateOptions<BsonDocument> { IsUpsert = true },
                cancellationToken);
            return true;
        }
        catch (MongoCommandException ex) when (ex.Code == 11000)
        {
            return false;
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    public async Task ReleaseLeaseAsync(string name, string owner, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        await context.Leases.DeleteOneAsync(Doc.And(Doc.Eq("_id", name), Doc.Eq("owner", owner)), cancellationToken);
    }

    public async Task<SweepBatch> ExpireJobPayloadsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, DateTimeOffset expiredAt,
        int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await context.EnsureIndexesAsync(cancellationToken);
        var found = await FindSizedAsync(context.RawJobs,
            Doc.And(FinishedJobsOf(tenantId, kind, completedBefore), Doc.Not(Doc.Exists("payloadExpiredAt"))),
            "outputs", limit, cancellationToken);
        if (found.Count > 0)
        {
            await context.RawJobs.UpdateManyAsync(
                Doc.And(Doc.In("_id", found.Select(f => f.Id)), Doc.Not(Doc.Exists("payloadExpiredAt"))),
                Builders<BsonDocument>.Update.Unset("outputs").Set("payloadExpiredAt", expiredAt.UtcTicks),
                cancellationToken: cancellationToken);
        }

        return new SweepBatch(found.Count, found.Sum(f => f.Bytes));
    }

    public async Task<SweepBatch> DeleteJobRecordsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await context.EnsureIndexesAsync(cancellationToken);
        var found = await FindSizedAsync(context.RawJobs, FinishedJobsOf(tenantId, kind, completedBefore), "outputs", limit, cancellationToken);
        if (found.Count == 0)
        {
            return SweepBatch.None;
        }

        // Dependents first: a job record is what makes them findable, so a crash between the writes leaves no orphans. They
        // hang off the tenant's job ids, not off the documents' _ids.
        var ids = found.ConvertAll(f => f.Id);
        var jobIds = (await context.RawJobs.Find(Doc.In("_id", ids)).Project(Builders<BsonDocument>.Projection.Include("jobId"))
            .ToListAsync(cancellationToken)).ConvertAll(d => d["jobId"]);
        var dependents = Doc.And(Doc.Eq("tenantId", tenantId), Doc.In("jobId", jobIds));
        await context.Webhooks.DeleteManyAsync(dependents, cancellationToken);
        await context.Events.DeleteManyAsync(dependents, cancellationToken);
        await context.TrainJobs.DeleteManyAsync(dependents, cancellationToken);
        await context.RawJobs.DeleteManyAsync(Doc.In("_id", ids), cancellationToken);
        return new SweepBatch(found.Count, found.Sum(f => f.Bytes));
    }

    public async Task<SweepBatch> ExpireDatasetsAsync(string tenantId, DateTimeOffset createdBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await context.EnsureIndexesAsync(cancellationToken);
        var candidates = await context.Datasets
            .Find(Doc.And(TenantOf(tenantId), Doc.Lt("createdAt", createdBefore.UtcTicks), Doc.Not(Doc.Exists("expiredAt"))))
            .Limit(limit).ToListAsync(cancellationToken);

        // A file that a bulk job still reads is left for a later sweep: running work is never cut short.
        var inUse = (await context.RawBulkJobs
            .Find(Doc.And(Doc.In("inputFileId", candidates.Select(d => d["_id"])), Doc.Nin("status", FinalBulkStatuses)))
            .Project(Builders<BsonDocument>.Projection.Include("inputFileId")).ToListAsync(cancellationToken))
            .Select(b => b["inputFileId"].AsString).ToHashSet(StringComparer.Ordinal);

        var batch = SweepBatch.None;
        foreach (var dataset in candidates.Where(d => !inUse.Contains(d["_id"].AsString)))
        {
            try
            {
                await context.DatasetFiles.DeleteAsync(dataset["fileId"].AsObjectId, cancellationToken);
            }
            catch (GridFSFileNotFoundException)
            {
                // A sweep that died after the delete: the tombstone below is what is missing.
            }

            await context.Datasets.UpdateOneAsync(Doc.Eq("_id", dataset["_id"]), Builders<BsonDocument>.Update.Set("expiredAt", expiredAt.UtcTicks),
                cancellationToken: cancellationToken);
            batch += new SweepBatch(1, dataset["sizeBytes"].ToInt64());
        }

        return batch;
    }

    public async Task<SweepBatch> ExpireBulkOutputsAsync(string tenantId, DateTimeOffset completedBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await context.EnsureIndexesAsync(cancellationToken);
        var jobs = await context.RawBulkJobs
            .Find(Doc.And(TenantOf(tenantId), Doc.Exists("completedAt"), Doc.Lt("completedAt", completedBefore.UtcTicks),
                Doc.Not(Doc.Exists("outputsExpiredAt")), Doc.In("status", FinalBulkStatuses)))
            .Project(Builders<BsonDocument>.Projection.Include("_id").Include("jobId")).Limit(limit).ToListAsync(cancellationToken);

        // Chunks are the unit of the limit, as in the embedded store.
        var batch = SweepBatch.None;
        foreach (var job in jobs)
        {
            var chunksOfJob = Doc.And(Doc.Eq("tenantId", tenantId), Doc.Eq("bulkId", job["jobId"]));
            batch += await DeleteChunksAsync(context.BulkResults, chunksOfJob, limit - batch.Count, cancellationToken);
            batch += await DeleteChunksAsync(context.BulkInputs, chunksOfJob, limit - batch.Count, cancellationToken);
            if (batch.Count >= limit)
            {
                break;
            }

            await context.RawBulkJobs.UpdateOneAsync(Doc.Eq("_id", job["_id"]), Builders<BsonDocument>.Update.Set("outputsExpiredAt", expiredAt.UtcTicks),
                cancellationToken: cancellationToken);
        }

        return batch;
    }

    private static async Task<SweepBatch> DeleteChunksAsync(IMongoCollection<BsonDocument> chunks, FilterDefinition<BsonDocument> chunksOfJob, int limit,
        CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return SweepBatch.None;
        }

        var found = await FindSizedAsync(chunks, chunksOfJob, null, limit, cancellationToken);
        if (found.Count > 0)
        {
            await chunks.DeleteManyAsync(Doc.In("_id", found.Select(f => f.Id)), cancellationToken);
        }

        return new SweepBatch(found.Count, found.Sum(f => f.Bytes));
    }

    /// <summary>Up to <paramref name="limit"/> matching ids with the BSON size of <paramref name="field"/> (the whole document
    /// when null), measured by the server so that no payload travels.</summary>
    private static async Task<List<(BsonValue Id, long Bytes)>> FindSizedAsync(IMongoCollection<BsonDocument> collection,
        FilterDefinition<BsonDocument> filter, string? field, int limit, CancellationToken cancellationToken)
    {
        var size = field is null
            ? new BsonDocument("$bsonSize", "$$ROOT")
            : new BsonDocument("$bsonSize", new BsonDocument("v", new BsonDocument("$ifNull", new BsonArray { "$" + field, BsonNull.Value })));
        var documents = await collection.Aggregate()
            .Match(filter)
            .Limit(limit)
            .Project(new BsonDocument { ["_id"] = 1, ["size"] = size })
            .ToListAsync(cancellationToken);
        return documents.ConvertAll(d => (d["_id"], d["size"].ToInt64()));
    }

    private static FilterDefinition<BsonDocument> FinishedJobsOf(string tenantId, JobKind kind, DateTimeOffset completedBefore) => Doc.And(
        TenantOf(tenantId),
        Doc.Eq("kind", kind.ToString()),
        Doc.Exists("completedAt"),
        Doc.Lt("completedAt", completedBefore.UtcTicks),
        Doc.In("status", FinalJobStatuses));

    /// <summary>Documents stored before tenants existed have no tenant and are the default tenant's.</summary>
    private static FilterDefinition<BsonDocument> TenantOf(string tenantId) =>
        tenantId == Tenants.DefaultTenantId ? Doc.In("tenantId", [BsonValue.Create(tenantId), BsonNull.Value]) : Doc.Eq("tenantId", tenantId);

    public Task<long> ReclaimSpaceAsync(long maxBytes, CancellationToken cancellationToken = default) => Task.FromResult(0L);

    public async Task<long> GetStoredBytesAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await context.EnsureIndexesAsync(cancellationToken);
        var files = await context.Datasets.Aggregate()
            .Match(Doc.And(TenantOf(tenantId), Doc.Not(Doc.Exists("expiredAt"))))
            .Group(new BsonDocument { ["_id"] = BsonNull.Value, ["bytes"] = new BsonDocument("$sum", "$sizeBytes") })
            .FirstOrDefaultAsync(cancellationToken);
        long chunks = 0;
        foreach (var collection in new[] { context.BulkResults, context.BulkInputs })
        {
            var sum = await collection.Aggregate()
                .Match(Doc.Eq("tenantId", tenantId))
                .Group(new BsonDocument { ["_id"] = BsonNull.Value, ["bytes"] = new BsonDocument("$sum", new BsonDocument("$bsonSize", "$$ROOT")) })
                .FirstOrDefaultAsync(cancellationToken);
            chunks += sum?["bytes"].ToInt64() ?? 0;
        }

        return (files?["bytes"].ToInt64() ?? 0) + chunks;
    }

    public async Task<StoreSize> GetSizeAsync(CancellationToken cancellationToken = default)
    {
        var stats = await context.Database.RunCommandAsync<BsonDocument>(new BsonDocument { ["dbStats"] = 1, ["freeStorage"] = 1 },
            cancellationToken: cancellationToken);
        long Read(string name) => stats.GetValue(name, 0).ToInt64();
        return new StoreSize
        {
            Kind = "mongodb",
            TotalBytes = Read("storageSize") + Read("indexSize"),
            FreeBytes = Read("freeStorageSize") + Read("indexFreeStorageSize"),
            Reclaims = false,
            Note = "WiredTiger reuses freed space; run compact to give it back to the file system.",
        };
    }

    public async Task SaveSweepReportAsync(SweepReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        await context.SweepReports.ReplaceOneAsync(Doc.Eq("_id", SweepReportName),
            new BsonDocument { ["_id"] = SweepReportName, ["report"] = JsonSerializer.Serialize(report, StoreJson.Options) },
            new ReplaceOptions { IsUpsert = true }, cancellationToken);
    }

    public async Task<SweepReport?> GetSweepReportAsync(CancellationToken cancellationToken = default)
    {
        var document = await context.SweepReports.Find(Doc.Eq("_id", SweepReportName)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : JsonSerializer.Deserialize<SweepReport>(document["report"].AsString, StoreJson.Options);
    }
}
