using MongoDB.Bson;
using MongoDB.Driver;

namespace AIaaS.Queue.Store;

/// <summary>Filters and small helpers every concern class of the distributed store uses.</summary>
internal static class MongoCommands
{
    public static readonly FilterDefinitionBuilder<BsonDocument> Doc = Builders<BsonDocument>.Filter;
    public static readonly UpdateDefinitionBuilder<BsonDocument> DocUpdate = Builders<BsonDocument>.Update;
    public static readonly FilterDefinitionBuilder<JobDocument> JobFilter = Builders<JobDocument>.Filter;
    public static readonly FilterDefinitionBuilder<ModelDocument> ModelFilter = Builders<ModelDocument>.Filter;

    /// <summary>Guids are stored as standard UUIDs.</summary>
    public static BsonBinaryData Id(Guid id) => new(id, GuidRepresentation.Standard);

    /// <summary>The tenant's job (or train job) <paramref name="jobId"/>: ids are unique per tenant, under the "tenant_job" index.</summary>
    public static FilterDefinition<JobDocument> JobKeyIs(string tenantId, Guid jobId) =>
        JobFilter.And(JobFilter.Eq(d => d.TenantId, tenantId), JobFilter.Eq(d => d.Id, jobId));

    /// <summary>The same key in a collection of plain documents, whose id field is <paramref name="idField"/>.</summary>
    public static FilterDefinition<BsonDocument> DocKeyIs(string tenantId, Guid jobId, string idField = "jobId") =>
        Doc.And(Doc.Eq("tenantId", tenantId), Doc.Eq(idField, Id(jobId)));

    public static bool IsOnlyDuplicateKeys(MongoBulkWriteException<JobDocument> ex) =>
        ex.WriteConcernError is null
        && ex.WriteErrors.Count > 0
        && ex.WriteErrors.All(e => e.Category == ServerErrorCategory.DuplicateKey);
}
