using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>
/// The distributed store's database: the collections and GridFS buckets every concern of the store uses, their indexes
/// (made once per process before first use), the clock, and the client when it owns one. The concern classes
/// (<see cref="MongoJobStore"/>, <see cref="MongoModelStore"/>, ...) take it and do their own queries. Jobs are in "jobs"
/// (keyed by tenantId and jobId, a standard UUID, under one unique index: ids are unique per tenant), model versions in "models" (unique on name and version), model files in the
/// GridFS bucket "models".
/// </summary>
public sealed class MongoDatabaseContext : IDisposable
{
    internal const string JobsCollection = "jobs";
    private const string ModelsCollection = "models";
    internal const string FilesBucket = "models";
    internal const int FileChunkSize = 1024 * 1024;
    private const string TrainJobsCollection = "train_jobs";
    private const string EventsCollection = "job_events";
    private const string DatasetsCollection = "datasets";
    private const string DatasetsBucket = "datasets";
    private const string BulkJobsCollection = "bulk_jobs";
    private const string BulkInputsCollection = "bulk_chunk_inputs";
    private const string BulkResultsCollection = "bulk_chunk_results";
    private const string TenantsCollection = "tenants";
    private const string ApiKeysCollection = "apiKeys";
    private const string WebhooksCollection = "webhook_deliveries";
    private const string LeasesCollection = "leases";
    private const string SweepReportsCollection = "sweep_reports";
    private const string MigrationsCollection = "store_migrations";

    private readonly MongoClient? _ownedClient;
    private readonly SemaphoreSlim _indexGate = new(1, 1);
    private volatile bool _indexesReady;
    private int _disposed;

    /// <summary>A context that owns a client for <paramref name="connectionString"/> and disposes it with itself.</summary>
    public MongoDatabaseContext(string connectionString, string databaseName, TimeProvider? timeProvider = null)
        : this(new MongoClient(connectionString), databaseName, timeProvider)
    {
    }

    /// <summary>A context over a database whose client the caller owns.</summary>
    public MongoDatabaseContext(IMongoDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        MongoMappings.EnsureRegistered();
        Database = database;
        Time = timeProvider ?? TimeProvider.System;
        Jobs = database.GetCollection<JobDocument>(JobsCollection);
        Models = database.GetCollection<ModelDocument>(ModelsCollection);
        ModelFiles = new GridFSBucket(database, new GridFSBucketOptions { BucketName = FilesBucket, ChunkSizeBytes = FileChunkSize });
    }

    private MongoDatabaseContext(MongoClient client, string databaseName, TimeProvider? timeProvider)
        : this(client.GetDatabase(databaseName), timeProvider)
    {
        _ownedClient = client;
    }

    internal IMongoDatabase Database { get; }
    internal TimeProvider Time { get; }
    internal IMongoCollection<JobDocument> Jobs { get; }
    internal IMongoCollection<ModelDocument> Models { get; }
    internal IGridFSBucket<ObjectId> ModelFiles { get; }
    internal IMongoCollection<BsonDocument> TrainJobs => Database.GetCollection<BsonDocument>(TrainJobsCollection);
    internal IMongoCollection<BsonDocument> Events => Database.GetCollection<BsonDocument>(EventsCollection);
    internal IMongoCollection<BsonDocument> Datasets => Database.GetCollection<BsonDocument>(DatasetsCollection);
    internal GridFSBucket DatasetFiles => new(Database, new GridFSBucketOptions { BucketName = DatasetsBucket, ChunkSizeBytes = FileChunkSize });
    internal IMongoCollection<BulkJobDocument> BulkJobs => Database.GetCollection<BulkJobDocument>(BulkJobsCollection);
    internal IMongoCollection<BsonDocument> BulkInputs => Database.GetCollection<BsonDocument>(BulkInputsCollection);
    internal IMongoCollection<BsonDocument> BulkResults => Database.GetCollection<BsonDocument>(BulkResultsCollection);
    internal IMongoCollection<BsonDocument> TenantDocuments => Database.GetCollection<BsonDocument>(TenantsCollection);
    internal IMongoCollection<BsonDocument> ApiKeys => Database.GetCollection<BsonDocument>(ApiKeysCollection);
    internal IMongoCollection<BsonDocument> Webhooks => Database.GetCollection<BsonDocument>(WebhooksCollection);
    internal IMongoCollection<BsonDocument> Leases => Database.GetCollection<BsonDocument>(LeasesCollection);
    internal IMongoCollection<BsonDocument> SweepReports => Database.GetCollection<BsonDocument>(SweepReportsCollection);

    /// <summary>The jobs and bulk jobs as plain documents, for the retention sweeps' field-by-name queries.</summary>
    internal IMongoCollection<BsonDocument> RawJobs => Database.GetCollection<BsonDocument>(JobsCollection);
    internal IMongoCollection<BsonDocument> RawBulkJobs => Database.GetCollection<BsonDocument>(BulkJobsCollection);

    /// <summary>Creates every collection's indexes (and the default tenant) once per process, before the first use.</summary>
    internal async Task EnsureIndexesAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_indexesReady)
        {
            return;
        }

        await _indexGate.WaitAsync(cancellationToken);
        try
        {
            if (_indexesReady)
            {
                return;
            }

            await MigrateToPerTenantIdsAsync(cancellationToken);
            await CreateJobAndModelIndexesAsync(cancellationToken);
            await CreateTrainingIndexesAsync(cancellationToken);
            await CreateTenantIndexesAsync(cancellationToken);
            await CreateWebhookIndexesAsync(cancellationToken);
            await CreateBulkIndexesAsync(cancellationToken);
            await CreateRetentionIndexesAsync(cancellationToken);

            _indexesReady = true;
        }
        finally
        {
            _indexGate.Release();
        }
    }

    /// <summary>
    /// Ids became unique per tenant (issue #13, finding 14): a job, bulk job or train job is keyed by tenantId and jobId under a
    /// unique index, no longer by an _id that is its id. Documents stored before get their jobId (their _id, which stays) and,
    /// where they had none, their tenant: a job's own or the default; events, chunks and webhook deliveries their job's, looked
    /// up by the old _id while it is still unique. The unique indexes on the old keys are dropped, since they would refuse a
    /// second tenant's id. Every step is idempotent, so processes that start together may all run it; a marker document
    /// makes later starts skip it.
    /// </summary>
    private async Task MigrateToPerTenantIdsAsync(CancellationToken cancellationToken)
    {
        const string marker = "per-tenant-ids";
        var migrations = Database.GetCollection<BsonDocument>(MigrationsCollection);
        if (await migrations.Find(Doc.Eq("_id", marker)).AnyAsync(cancellationToken))
        {
            return;
        }

        var legacy = Doc.Exists("jobId", false);
        var keyed = new BsonDocument("$set", new BsonDocument
        {
            ["jobId"] = "$_id",
            ["tenantId"] = new BsonDocument("$ifNull", new BsonArray { "$tenantId", Tenants.DefaultTenantId }),
        });
        foreach (var collection in new[] { RawJobs, RawBulkJobs })
        {
            await collection.UpdateManyAsync(legacy, DocUpdate.Pipeline(new[] { keyed }), cancellationToken: cancellationToken);
        }

        // Train jobs were keyed by _id alone and named no tenant: their job's tenant.
        await CopyJobTenantAsync(TrainJobs, "_id", RawJobs, cancellationToken);
        await TrainJobs.UpdateManyAsync(legacy, DocUpdate.Pipeline(new[] { new BsonDocument("$set", new BsonDocument("jobId", "$_id")) }),
            cancellationToken: cancellationToken);
        await CopyJobTenantAsync(Events, "jobId", RawJobs, cancellationToken);
        await CopyJobTenantAsync(BulkInputs, "bulkId", RawBulkJobs, cancellationToken);
        await CopyJobTenantAsync(BulkResults, "bulkId", RawBulkJobs, cancellationToken);
        await CopyJobTenantAsync(Webhooks, "jobId", RawJobs, cancellationToken);
        await CopyJobTenantAsync(Webhooks, "jobId", RawBulkJobs, cancellationToken);
        foreach (var dependents in new[] { TrainJobs, Events, BulkInputs, BulkResults, Webhooks })
        {
            await dependents.UpdateManyAsync(Doc.Or(Doc.Exists("tenantId", false), Doc.Eq("tenantId", BsonNull.Value)),
                DocUpdate.Set("tenantId", Tenants.DefaultTenantId), cancellationToken: cancellationToken);
        }

        await DropIndexesAsync(RawJobs, ["page", "status_page", "model_page", "kind_page", "tenant_page"], cancellationToken);
        await DropIndexesAsync(RawBulkJobs, ["tenant_page"], cancellationToken);
        await DropIndexesAsync(Events, ["job_seq"], cancellationToken);
        await DropIndexesAsync(BulkInputs, ["bulk_chunk"], cancellationToken);
        await DropIndexesAsync(BulkResults, ["bulk_chunk"], cancellationToken);
        await DropIndexesAsync(Webhooks, ["job"], cancellationToken);
        await DropIndexesAsync(Database.GetCollection<BsonDocument>(ModelsCollection), ["training_job"], cancellationToken);
        await migrations.UpdateOneAsync(Doc.Eq("_id", marker), DocUpdate.SetOnInsert("at", Time.GetUtcNow().UtcTicks),
            new UpdateOptions { IsUpsert = true }, cancellationToken);
    }

    /// <summary>Sets tenantId on the documents of <paramref name="dependents"/> that have none, from the job whose old _id
    /// their <paramref name="jobField"/> holds.</summary>
    private static async Task CopyJobTenantAsync(IMongoCollection<BsonDocument> dependents, string jobField, IMongoCollection<BsonDocument> owners,
        CancellationToken cancellationToken)
    {
        var missing = Doc.Or(Doc.Exists("tenantId", false), Doc.Eq("tenantId", BsonNull.Value));
        var jobIds = await (await dependents.DistinctAsync<BsonValue>(jobField, missing, cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        foreach (var jobId in jobIds)
        {
            var owner = await owners.Find(Doc.Eq("_id", jobId)).Project(Builders<BsonDocument>.Projection.Include("tenantId"))
                .FirstOrDefaultAsync(cancellationToken);
            if (owner?.GetValue("tenantId", BsonNull.Value) is { IsString: true } tenant)
            {
                await dependents.UpdateManyAsync(Doc.And(Doc.Eq(jobField, jobId), missing), DocUpdate.Set("tenantId", tenant),
                    cancellationToken: cancellationToken);
            }
        }
    }

    private static async Task DropIndexesAsync(IMongoCollection<BsonDocument> collection, string[] names, CancellationToken cancellationToken)
    {
        var existing = await (await collection.Indexes.ListAsync(cancellationToken)).ToListAsync(cancellationToken);
        foreach (var name in names.Where(n => existing.Any(i => i.GetValue("name", "").AsString == n)))
        {
            try
            {
                await collection.Indexes.DropOneAsync(name, cancellationToken);
            }
            catch (MongoCommandException ex) when (ex.CodeName == "IndexNotFound")
            {
                // Another process dropped it first.
            }
        }
    }

    /// <summary>Job listing and admission indexes, and one version number per model name.</summary>
    private async Task CreateJobAndModelIndexesAsync(CancellationToken cancellationToken)
    {
        // Each listing filter leads an index that continues in page order, so a page is an index walk.
        // A job is its tenant and its id: the unique "tenant_job" index is the key (the _id is the server's, or the JobId in
        // documents stored before ids were per tenant). The page indexes end in jobId, which "_2" names tell from the old ones
        // that ended in _id.
        var keys = Builders<JobDocument>.IndexKeys;
        await Jobs.Indexes.CreateManyAsync(
            [
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.TenantId).Ascending(d => d.Id),
                    new CreateIndexOptions { Name = "tenant_job", Unique = true }),
                new CreateIndexModel<JobDocument>(
                    keys.Descending(d => d.SubmittedAt).Descending(d => d.Id),
                    new CreateIndexOptions { Name = "page_2" }),
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.Status).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                    new CreateIndexOptions { Name = "status_page_2" }),
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.Model).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                    new CreateIndexOptions { Name = "model_page_2" }),
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.Kind).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                    new CreateIndexOptions { Name = "kind_page_2" }),
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.TenantId).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                    new CreateIndexOptions { Name = "tenant_page_2" }),
                new CreateIndexModel<JobDocument>(
                    keys.Ascending(d => d.Model).Ascending(d => d.Status),
                    new CreateIndexOptions { Name = "model_status" }),
            ],
            cancellationToken);

        await Models.Indexes.CreateOneAsync(
            new CreateIndexModel<ModelDocument>(
                Builders<ModelDocument>.IndexKeys.Ascending(d => d.Name).Ascending(d => d.Version),
                new CreateIndexOptions { Name = "name_version", Unique = true }),
            cancellationToken: cancellationToken);
    }

    /// <summary>The train queue in claim order, events by job and sequence, and one model version per train job.</summary>
    private async Task CreateTrainingIndexesAsync(CancellationToken cancellationToken)
    {
        await Models.Indexes.CreateOneAsync(
            new CreateIndexModel<ModelDocument>(
                Builders<ModelDocument>.IndexKeys.Ascending(d => d.Name).Ascending(d => d.TrainingJobId),
                new CreateIndexOptions<ModelDocument>
                {
                    Name = "name_training_job",
                    Unique = true,
                    PartialFilterExpression = Builders<ModelDocument>.Filter.Exists(d => d.TrainingJobId),
                }),
            cancellationToken: cancellationToken);
        await TrainJobs.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("tenantId").Ascending("jobId"),
                new CreateIndexOptions { Name = "tenant_job", Unique = true }), cancellationToken: cancellationToken);
        await TrainJobs.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("state").Ascending("queuedAt"),
                new CreateIndexOptions { Name = "state_queued" }), cancellationToken: cancellationToken);
        await Events.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("tenantId").Ascending("jobId").Ascending("seq"),
                new CreateIndexOptions { Name = "tenant_job_seq", Unique = true }), cancellationToken: cancellationToken);
    }

    /// <summary>A tenant's keys in creation order, and the default tenant.</summary>
    private async Task CreateTenantIndexesAsync(CancellationToken cancellationToken)
    {
        await ApiKeys.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(
                Builders<BsonDocument>.IndexKeys.Ascending("tenantId").Ascending("createdAt"),
                new CreateIndexOptions { Name = "tenant_created" }),
            cancellationToken: cancellationToken);

        // The default tenant always exists, as in the embedded store.
        await TenantDocuments.UpdateOneAsync(
            Builders<BsonDocument>.Filter.Eq("_id", Tenants.DefaultTenantId),
            Builders<BsonDocument>.Update.SetOnInsert("name", Tenants.DefaultTenantId).SetOnInsert("createdAt", 0L),
            new UpdateOptions { IsUpsert = true }, cancellationToken);
    }

    /// <summary>Due deliveries in due order, and a job's deliveries.</summary>
    private async Task CreateWebhookIndexesAsync(CancellationToken cancellationToken)
    {
        await Webhooks.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("state").Ascending("nextAttemptAt"),
                new CreateIndexOptions { Name = "due" }), cancellationToken: cancellationToken);
        await Webhooks.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("tenantId").Ascending("jobId").Ascending("createdAt"),
                new CreateIndexOptions { Name = "tenant_job" }), cancellationToken: cancellationToken);
    }

    /// <summary>A tenant's bulk jobs newest first, and each chunk stored once.</summary>
    private async Task CreateBulkIndexesAsync(CancellationToken cancellationToken)
    {
        await BulkJobs.Indexes.CreateOneAsync(
            new CreateIndexModel<BulkJobDocument>(
                Builders<BulkJobDocument>.IndexKeys.Ascending(d => d.TenantId).Ascending(d => d.Id),
                new CreateIndexOptions { Name = "tenant_job", Unique = true }),
            cancellationToken: cancellationToken);
        await BulkJobs.Indexes.CreateOneAsync(
            new CreateIndexModel<BulkJobDocument>(
                Builders<BulkJobDocument>.IndexKeys.Ascending(d => d.TenantId).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                new CreateIndexOptions { Name = "tenant_page_2" }),
            cancellationToken: cancellationToken);
        foreach (var chunks in new[] { BulkInputs, BulkResults })
        {
            await chunks.Indexes.CreateOneAsync(
                new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("tenantId").Ascending("bulkId").Ascending("index"),
                    new CreateIndexOptions { Name = "tenant_bulk_chunk", Unique = true }),
                cancellationToken: cancellationToken);
        }
    }

    /// <summary>What the retention sweeps find, per tenant, through partial indexes of what can still be swept.</summary>
    private async Task CreateRetentionIndexesAsync(CancellationToken cancellationToken)
    {
        var docKeys = Builders<BsonDocument>.IndexKeys;
        var completed = Doc.Exists("completedAt");
        await RawJobs.Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(
            docKeys.Ascending("tenantId").Ascending("kind").Ascending("completedAt"),
            new CreateIndexOptions<BsonDocument> { Name = "retention", PartialFilterExpression = completed }),
            cancellationToken: cancellationToken);
        await RawBulkJobs.Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(
            docKeys.Ascending("tenantId").Ascending("completedAt"),
            new CreateIndexOptions<BsonDocument> { Name = "retention", PartialFilterExpression = completed }),
            cancellationToken: cancellationToken);
        await Datasets.Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(
            docKeys.Ascending("tenantId").Ascending("createdAt"), new CreateIndexOptions { Name = "retention" }),
            cancellationToken: cancellationToken);
    }

    /// <summary>Disposes the client when this context created it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _ownedClient?.Dispose();
        _indexGate.Dispose();
    }
}
