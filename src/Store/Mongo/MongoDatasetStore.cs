using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>The distributed store's uploaded data files: records in "datasets", content in the GridFS bucket "datasets".
/// Every read names the tenant, so another tenant's file is as good as unknown.</summary>
public sealed class MongoDatasetStore(MongoDatabaseContext context) : IDatasetStore
{
    public async Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(content);
        await context.EnsureIndexesAsync(cancellationToken);
        var fileId = ObjectId.GenerateNewId();
        using var hashing = new HashingReadStream(content);
        await context.DatasetFiles.UploadFromStreamAsync(fileId, name, hashing,
            new GridFSUploadOptions { ChunkSizeBytes = MongoDatabaseContext.FileChunkSize }, cancellationToken);
        var dataset = new DatasetView
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Name = name,
            SizeBytes = hashing.BytesRead,
            Sha256 = hashing.Sha256Hex(),
            CreatedAt = JobCursor.FromUtcTicks(context.Time.GetUtcNow().UtcTicks),
        };
        await context.Datasets.InsertOneAsync(new BsonDocument
        {
            ["_id"] = dataset.Id,
            ["tenantId"] = tenantId,
            ["name"] = dataset.Name,
            ["createdAt"] = dataset.CreatedAt.UtcTicks,
            ["sizeBytes"] = dataset.SizeBytes,
            ["sha256"] = dataset.Sha256,
            ["fileId"] = fileId,
        }, cancellationToken: cancellationToken);
        return dataset;
    }

    public async Task<DatasetView?> GetDatasetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        await context.EnsureIndexesAsync(cancellationToken);
        var d = await context.Datasets.Find(DatasetFilter(tenantId, id)).FirstOrDefaultAsync(cancellationToken);
        return d is null ? null : new DatasetView
        {
            Id = d["_id"].AsString,
            Name = d["name"].AsString,
            CreatedAt = JobCursor.FromUtcTicks(d["createdAt"].ToInt64()),
            SizeBytes = d["sizeBytes"].ToInt64(),
            Sha256 = d["sha256"].AsString,
            ExpiredAt = d.GetValue("expiredAt", BsonNull.Value) is { IsInt64: true } expired ? JobCursor.FromUtcTicks(expired.AsInt64) : null,
        };
    }

    public async Task CopyDatasetToAsync(string tenantId, string id, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(destination);
        await context.EnsureIndexesAsync(cancellationToken);
        var d = await context.Datasets.Find(DatasetFilter(tenantId, id)).FirstOrDefaultAsync(cancellationToken)
            ?? throw new KeyNotFoundException($"No dataset with id '{id}' is stored.");
        if (d.GetValue("expiredAt", BsonNull.Value) is { IsInt64: true } expired)
        {
            throw new StoredObjectExpiredException($"The content of dataset '{id}' was removed under its tenant's retention.",
                JobCursor.FromUtcTicks(expired.AsInt64));
        }

        await context.DatasetFiles.DownloadToStreamAsync(d["fileId"].AsObjectId, destination, cancellationToken: cancellationToken);
    }

    /// <summary>The tenant's data file; files stored before tenants existed have no tenant and are the default tenant's.</summary>
    private static FilterDefinition<BsonDocument> DatasetFilter(string tenantId, string id) => Doc.And(
        Doc.Eq("_id", id),
        tenantId == Tenants.DefaultTenantId ? Doc.In("tenantId", [BsonValue.Create(tenantId), BsonNull.Value]) : Doc.Eq("tenantId", tenantId));
}
