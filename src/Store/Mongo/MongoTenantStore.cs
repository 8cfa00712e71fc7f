using MongoDB.Bson;
using MongoDB.Driver;

namespace AIaaS.Queue.Store;

// Tenants in "tenants" (_id is the tenant id) and API key hashes in "apiKeys" (_id is the key id).
public sealed class MongoTenantStore(MongoDatabaseContext context) : ITenantStore
{



    public async Task<bool> CreateTenantAsync(TenantRecord tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await context.EnsureIndexesAsync(cancellationToken);
        try
        {
            await context.TenantDocuments.InsertOneAsync(new BsonDocument
            {
                ["_id"] = tenant.Id,
                ["name"] = tenant.Name is null ? BsonNull.Value : new BsonString(tenant.Name),
                ["createdAt"] = tenant.CreatedAt.UtcTicks,
            }, cancellationToken: cancellationToken);
            return true;
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    public async Task<TenantRecord?> GetTenantAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await context.TenantDocuments.Find(Builders<BsonDocument>.Filter.Eq("_id", tenantId)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : ToTenant(document);
    }

    public async Task<IReadOnlyList<TenantRecord>> ListTenantsAsync(CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.TenantDocuments.Find(Builders<BsonDocument>.Filter.Empty)
            .Sort(Builders<BsonDocument>.Sort.Ascending("_id")).ToListAsync(cancellationToken);
        return documents.ConvertAll(ToTenant);
    }

    private static TenantRecord ToTenant(BsonDocument d) => new()
    {
        Id = d["_id"].AsString,
        Name = d["name"].IsBsonNull ? null : d["name"].AsString,
        CreatedAt = JobCursor.FromUtcTicks(d["createdAt"].ToInt64()),
    };

    public async Task AddApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await context.EnsureIndexesAsync(cancellationToken);
        await context.ApiKeys.InsertOneAsync(new BsonDocument
        {
            ["_id"] = key.KeyId,
            ["tenantId"] = key.TenantId,
            ["sha256"] = key.Sha256,
            ["name"] = key.Name is null ? BsonNull.Value : new BsonString(key.Name),
            ["createdAt"] = key.CreatedAt.UtcTicks,
            ["revokedAt"] = BsonNull.Value,
        }, cancellationToken: cancellationToken);
    }

    public async Task<ApiKeyRecord?> GetApiKeyAsync(string keyId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await context.ApiKeys.Find(Builders<BsonDocument>.Filter.Eq("_id", keyId)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : ToApiKey(document);
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.ApiKeys.Find(Builders<BsonDocument>.Filter.Eq("tenantId", tenantId))
            .Sort(Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id")).ToListAsync(cancellationToken);
        return documents.ConvertAll(ToApiKey);
    }

    private static ApiKeyRecord ToApiKey(BsonDocument d) => new()
    {
        KeyId = d["_id"].AsString,
        TenantId = d["tenantId"].AsString,
        Sha256 = d["sha256"].AsString,
        Name = d["name"].IsBsonNull ? null : d["name"].AsString,
        CreatedAt = JobCursor.FromUtcTicks(d["createdAt"].ToInt64()),
        RevokedAt = d["revokedAt"].IsBsonNull ? null : JobCursor.FromUtcTicks(d["revokedAt"].ToInt64()),
    };

    public async Task<bool> RevokeApiKeyAsync(string tenantId, string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(keyId);
        await context.EnsureIndexesAsync(cancellationToken);
        var filter = Builders<BsonDocument>.Filter;
        var result = await context.ApiKeys.UpdateOneAsync(
            filter.And(filter.Eq("_id", keyId), filter.Eq("tenantId", tenantId), filter.Eq("revokedAt", BsonNull.Value)),
            Builders<BsonDocument>.Update.Set("revokedAt", revokedAt.UtcTicks), cancellationToken: cancellationToken);
        return result.ModifiedCount == 1;
    }

    public async Task<bool> HasActiveApiKeysAsync(CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        return await context.ApiKeys.Find(Builders<BsonDocument>.Filter.Eq("revokedAt", BsonNull.Value)).AnyAsync(cancellationToken);
    }
}
