using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;

namespace AIaaS.Queue.Store;

/// <summary>
/// The distributed store: jobs in collection "jobs" (_id is the JobId as a standard UUID), model versions in
/// "models" (unique on name and version), model files in the GridFS bucket "models".
/// </summary>
public sealed partial class MongoStore : IJobStore, IModelStore, IStoreHealth, ITrainingQueue, IJobEventStore, IDatasetStore, ITenantStore, IRetentionStore, IDisposable
{
    private const string JobsCollection = "jobs";
    private const string ModelsCollection = "models";
    private const string FilesBucket = "models";
    private const int FileChunkSize = 1024 * 1024;

    // Each round of a version race has one winner, so n concurrent registrations of one name settle within n rounds.
    private const int MaxVersionAttempts = 100;

    private static readonly FilterDefinitionBuilder<JobDocument> JobFilter = Builders<JobDocument>.Filter;
    private static readonly FilterDefinitionBuilder<ModelDocument> ModelFilter = Builders<ModelDocument>.Filter;
    private static readonly ProjectionDefinition<JobDocument> WithoutOutputs = Builders<JobDocument>.Projection.Exclude(d => d.Outputs).Exclude(d => d.Explanation);
    private static readonly SortDefinition<JobDocument> NewestFirst =
        Builders<JobDocument>.Sort.Descending(d => d.SubmittedAt).Descending(d => d.Id);

    private readonly MongoClient? _ownedClient;
    private readonly IMongoDatabase _database;
    private readonly IMongoCollection<JobDocument> _jobs;
    private readonly IMongoCollection<ModelDocument> _models;
    private readonly IGridFSBucket<ObjectId> _files;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _indexGate = new(1, 1);
    private volatile bool _indexesReady;
    private int _disposed;

    /// <summary>A store that owns a client for <paramref name="connectionString"/> and disposes it with itself.</summary>
    public MongoStore(string connectionString, string databaseName, TimeProvider? timeProvider = null)
        : this(new MongoClient(connectionString), databaseName, timeProvider)
    {
    }

    /// <summary>A store over a database whose client the caller owns.</summary>
    public MongoStore(IMongoDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        MongoMappings.EnsureRegistered();
        _database = database;
        _time = timeProvider ?? TimeProvider.System;
        _jobs = database.GetCollection<JobDocument>(JobsCollection);
        _models = database.GetCollection<ModelDocument>(ModelsCollection);
        _files = new GridFSBucket(database, new GridFSBucketOptions { BucketName = FilesBucket, ChunkSizeBytes = FileChunkSize });
    }

    private MongoStore(MongoClient client, string databaseName, TimeProvider? timeProvider)
        : this(client.GetDatabase(databaseName), timeProvider)
    {
        _ownedClient = client;
    }

    // ---- jobs ----

    public async Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (jobs.Count == 0)
        {
            return;
        }

        await EnsureIndexesAsync(cancellationToken);
        var requests = JobCursor.Distinct(jobs, keepLast: false).Select(InsertIfAbsentModel).ToList();
        try
        {
            await _jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
        }
        catch (MongoBulkWriteException<JobDocument> ex) when (IsOnlyDuplicateKeys(ex))
        {
            // Two upserts of one new id raced and the other inserted it: the job exists, which is all this asks.
        }
    }

    /// <summary>$setOnInsert writes only when the upsert inserts: an existing job, finished or not, is left as it is.</summary>
    internal static WriteModel<JobDocument> InsertIfAbsentModel(JobRecord job)
    {
        var fields = JobDocument.From(job).ToBsonDocument();
        fields.Remove("_id");
        return new UpdateOneModel<JobDocument>(JobFilter.Eq(d => d.Id, job.JobId), new BsonDocument("$setOnInsert", fields))
        {
            IsUpsert = true,
        };
    }

    public async Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (jobs.Count == 0)
        {
            return;
        }

        await EnsureIndexesAsync(cancellationToken);
        var requests = JobCursor.Distinct(jobs, keepLast: true)
            .Select(job => (WriteModel<JobDocument>)new ReplaceOneModel<JobDocument>(OwnJob(job), JobDocument.From(job))
            {
                IsUpsert = true,
            })
            .ToList();

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
                return;
            }
            catch (MongoBulkWriteException<JobDocument> ex) when (IsOnlyDuplicateKeys(ex))
            {
                // Concurrent upserts of one new id: the loser's insert hit the winner's. Replacing is idempotent,
                // so the failed requests are simply sent again and now match the existing document. One that still
                // does not is another tenant's job (OwnJob), which this write leaves alone.
                if (attempt >= 3)
                {
                    return;
                }

                requests = ex.WriteErrors.Select(e => requests[e.Index]).ToList();
            }
        }
    }

    public async Task<IReadOnlySet<Guid>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var written = new HashSet<Guid>();
        if (jobs.Count == 0)
        {
            return written;
        }

        await EnsureIndexesAsync(cancellationToken);
        var list = JobCursor.Distinct(jobs, keepLast: true).ToList();

        // Replace only a job of this tenant that is not final; for any other the filter matches nothing, the upsert tries to
        // insert its id and the unique _id refuses: that duplicate-key error is this store's "not yours to write".
        var requests = list.Select(job => (WriteModel<JobDocument>)new ReplaceOneModel<JobDocument>(
                JobFilter.And(OwnJob(job), JobFilter.Nin(d => d.Status, FinalStatuses)), JobDocument.From(job))
            {
                IsUpsert = true,
            })
            .ToList();
        var refused = new HashSet<int>();
        try
        {
            await _jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
        }
        catch (MongoBulkWriteException<JobDocument> ex) when (IsOnlyDuplicateKeys(ex))
        {
            refused.UnionWith(ex.WriteErrors.Select(e => e.Index));
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (!refused.Contains(i))
            {
                written.Add(list[i].JobId);
            }
        }

        return written;
    }

    /// <summary>The stored job with this record's id, when it is this record's tenant's: a job's tenant never changes.</summary>
    private static FilterDefinition<JobDocument> OwnJob(JobRecord job) =>
        JobFilter.And(JobFilter.Eq(d => d.Id, job.JobId), TenantIs(job.TenantId));

    private static readonly Contracts.JobStatus[] FinalStatuses =
        [Contracts.JobStatus.Succeeded, Contracts.JobStatus.Failed, Contracts.JobStatus.Cancelled, Contracts.JobStatus.Expired];

    public async Task<JobRecord?> GetAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var document = await _jobs.Find(JobFilter.Eq(d => d.Id, jobId)).FirstOrDefaultAsync(cancellationToken);
        return document?.ToRecord();
    }

    public async Task<IReadOnlyList<JobRecord>> GetManyAsync(
        IReadOnlyCollection<Guid> jobIds, bool includeOutputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        if (jobIds.Count == 0)
        {
            return [];
        }

        await EnsureIndexesAsync(cancellationToken);
        var ids = jobIds.Distinct().ToList();
        var find = _jobs.Find(JobFilter.In(d => d.Id, ids));
        var documents = includeOutputs
            ? await find.ToListAsync(cancellationToken)
            : await find.Project<JobDocument>(WithoutOutputs).ToListAsync(cancellationToken);

        // In the order asked, as the embedded store answers.
        var byId = documents.ToDictionary(d => d.Id);
        return ids.Where(byId.ContainsKey).Select(id => byId[id].ToRecord()).ToList();
    }

    public async Task<int> CountAsync(string model, Contracts.JobStatus status, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0)
        {
            return 0;
        }

        // Covered by the model_status index, and read no further than the limit.
        await EnsureIndexesAsync(cancellationToken);
        var count = await _jobs.CountDocumentsAsync(JobFilter.And(JobFilter.Eq(d => d.Model, model), JobFilter.Eq(d => d.Status, status)),
            new CountOptions { Limit = limit, Hint = "model_status" }, cancellationToken);
        return (int)count;
    }

    public async Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = JobCursor.ClampLimit(query.Limit);

        await EnsureIndexesAsync(cancellationToken);
        var documents = await _jobs
            .Find(ListFilter(query))
            .Project<JobDocument>(WithoutOutputs)
            .Sort(NewestFirst)
            .Limit(limit + 1)
            .ToListAsync(cancellationToken);

        var items = documents.Take(limit).Select(d => d.ToRecord()).ToList();
        return new JobPage(items, documents.Count > limit ? JobCursor.Encode(items[^1]) : null);
    }

    /// <summary>The tenant's jobs; documents without a tenant (stored before tenants existed) are the default tenant's.</summary>
    private static FilterDefinition<JobDocument> TenantIs(string tenantId) => tenantId == Tenants.DefaultTenantId
        ? JobFilter.In(d => d.TenantId, [tenantId, null])
        : JobFilter.Eq(d => d.TenantId, tenantId);

    /// <summary>The query's filters and, after a cursor, only what sorts after it: older, or as old with a smaller id.</summary>
    internal static FilterDefinition<JobDocument> ListFilter(JobQuery query)
    {
        var filters = new List<FilterDefinition<JobDocument>>(5);
        if (query.TenantId is { } tenantId)
        {
            filters.Add(TenantIs(tenantId));
        }

        if (query.Status is { } status)
        {
            filters.Add(JobFilter.Eq(d => d.Status, status));
        }

        if (query.Model is { } model)
        {
            filters.Add(JobFilter.Eq(d => d.Model, model));
        }

        if (query.Kind is { } kind)
        {
            filters.Add(JobFilter.Eq(d => d.Kind, kind));
        }

        if (query.Cursor is not null)
        {
            var (afterTicks, afterId) = JobCursor.Decode(query.Cursor);
            filters.Add(JobFilter.Or(
                JobFilter.Lt(d => d.SubmittedAt, afterTicks),
                JobFilter.And(JobFilter.Eq(d => d.SubmittedAt, afterTicks), JobFilter.Lt(d => d.Id, afterId))));
        }

        return filters.Count == 0 ? JobFilter.Empty : JobFilter.And(filters);
    }

    private static bool IsOnlyDuplicateKeys(MongoBulkWriteException<JobDocument> ex) =>
        ex.WriteConcernError is null
        && ex.WriteErrors.Count > 0
        && ex.WriteErrors.All(e => e.Category == ServerErrorCategory.DuplicateKey);

    // ---- models ----

    public async Task<ModelVersionRecord> AddVersionAsync(NewModelVersion model, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name);
        await EnsureIndexesAsync(cancellationToken);
        if (model.Training is { } training && await FindByTrainingJobAsync(training.TrainingJobId, cancellationToken) is { } registered)
        {
            return registered.ToRecord();
        }

        // The file goes first, so a version is never visible before its file is complete.
        var fileId = ObjectId.GenerateNewId();
        long size;
        string sha256;
        using (var hashing = new HashingReadStream(content))
        {
            await _files.UploadFromStreamAsync(
                fileId,
                model.Name,
                hashing,
                new GridFSUploadOptions { ChunkSizeBytes = FileChunkSize, Metadata = new BsonDocument("name", model.Name) },
                cancellationToken);
            size = hashing.BytesRead;
            sha256 = hashing.Sha256Hex();
        }

        var document = new ModelDocument
        {
            Name = model.Name,
            CreatedAt = _time.GetUtcNow().UtcTicks,
            SizeBytes = size,
            Sha256 = sha256,
            Inputs = model.Inputs.Select(TensorSpecDocument.From).ToList(),
            Outputs = model.Outputs.Select(TensorSpecDocument.From).ToList(),
            Batching = model.Batching is null ? null : BatchingDocument.From(model.Batching),
            Description = model.Description,
            FileId = fileId,
            TrainingJobId = model.Training?.TrainingJobId,
            Training = model.Training is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Training, StoreJson.Options),
            Background = model.Background is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Background, StoreJson.Options),
            Recipe = model.Recipe is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Recipe, StoreJson.Options),
            Vocabulary = model.Vocabulary,
            HasVocabulary = model.Vocabulary is not null,
        };

        try
        {
            await InsertNextVersionAsync(document, cancellationToken);
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey && model.Training is not null)
        {
            // Another attempt of the same train job registered first: its version stands, this file goes.
            await DeleteFileQuietlyAsync(fileId);
            var raced = await FindByTrainingJobAsync(model.Training.TrainingJobId, cancellationToken);
            if (raced is null)
            {
                throw;
            }

            return raced.ToRecord();
        }
        catch
        {
            await DeleteFileQuietlyAsync(fileId);
            throw;
        }

        await TagFileWithVersionAsync(fileId, document.Version);
        return document.ToRecord();
    }

    private async Task InsertNextVersionAsync(ModelDocument document, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var latest = await _models
                .Find(ModelFilter.Eq(d => d.Name, document.Name))
                .SortByDescending(d => d.Version)
                .Limit(1)
                .FirstOrDefaultAsync(cancellationToken);

            document.Id = ObjectId.GenerateNewId();
            document.Version = (latest?.Version ?? 0) + 1;
            try
            {
                // The unique (name, version) index decides races: the loser reads the new maximum and tries again.
                await _models.InsertOneAsync(document, cancellationToken: cancellationToken);
                return;
            }
            catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey && attempt < MaxVersionAttempts)
            {
                // The training-job index refuses a second version of one train job: that is final, not a version race.
                if (document.TrainingJobId is { } trainingJobId && await FindByTrainingJobAsync(trainingJobId, cancellationToken) is not null)
                {
                    throw;
                }
            }
        }
    }

    private async Task TagFileWithVersionAsync(ObjectId fileId, int version)
    {
        // The model document is the record; the version in the file's metadata is for people browsing the bucket,
        // and failing to add it must not report a registered version as failed.
        try
        {
            await _database.GetCollection<BsonDocument>(FilesBucket + ".files").UpdateOneAsync(
                Builders<BsonDocument>.Filter.Eq("_id", fileId),
                Builders<BsonDocument>.Update.Set("metadata.version", version));
        }
        catch (MongoException)
        {
        }
    }

    private async Task DeleteFileQuietlyAsync(ObjectId fileId)
    {
        try
        {
            await _files.DeleteAsync(fileId, CancellationToken.None);
        }
        catch (MongoException)
        {
            // Includes GridFSFileNotFoundException: an upload cancelled half-way has already removed its chunks.
        }
    }

    public async Task<ModelVersionRecord?> GetVersionAsync(string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await EnsureIndexesAsync(cancellationToken);
        var document = await FindVersionAsync(name, version, cancellationToken);
        return document?.ToRecord();
    }

    private Task<ModelDocument?> FindVersionAsync(string name, int? version, CancellationToken cancellationToken)
    {
        var byName = ModelFilter.Eq(d => d.Name, name);
        var find = version is { } v
            ? _models.Find(ModelFilter.And(byName, ModelFilter.Eq(d => d.Version, v)))
            : _models.Find(byName).SortByDescending(d => d.Version).Limit(1);
        return find.Project<ModelDocument>(WithoutVocabulary).FirstOrDefaultAsync(cancellationToken)!;
    }

    /// <summary>A vocabulary can be hundreds of kilobytes: only the worker loading a version reads it.</summary>
    private static readonly ProjectionDefinition<ModelDocument> WithoutVocabulary = Builders<ModelDocument>.Projection.Exclude(d => d.Vocabulary);

    public async Task<string?> GetVocabularyAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await EnsureIndexesAsync(cancellationToken);
        var document = await _models.Find(ModelFilter.And(ModelFilter.Eq(d => d.Name, name), ModelFilter.Eq(d => d.Version, version)))
            .FirstOrDefaultAsync(cancellationToken);
        return document?.Vocabulary;
    }

    public async Task<IReadOnlyList<ModelVersionRecord>> ListAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var documents = await _models
            .Find(name is null ? ModelFilter.Empty : ModelFilter.Eq(d => d.Name, name))
            .Sort(Builders<ModelDocument>.Sort.Ascending(d => d.Name).Ascending(d => d.Version))
            .Project<ModelDocument>(WithoutVocabulary)
            .ToListAsync(cancellationToken);
        return documents.ConvertAll(d => d.ToRecord());
    }

    public async Task CopyFileToAsync(string name, int version, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(destination);
        await EnsureIndexesAsync(cancellationToken);

        var document = await FindVersionAsync(name, version, cancellationToken)
            ?? throw new KeyNotFoundException($"Model '{name}' has no version {version}.");
        try
        {
            await _files.DownloadToStreamAsync(document.FileId, destination, cancellationToken: cancellationToken);
        }
        catch (GridFSFileNotFoundException ex)
        {
            throw new KeyNotFoundException($"The file of model '{name}' version {version} is missing.", ex);
        }
    }

    // ---- health ----

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        _database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken);

    // ---- plumbing ----

    private async Task EnsureIndexesAsync(CancellationToken cancellationToken)
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

            // Each listing filter leads an index that continues in page order, so a page is an index walk.
            var keys = Builders<JobDocument>.IndexKeys;
            await _jobs.Indexes.CreateManyAsync(
                [
                    new CreateIndexModel<JobDocument>(
                        keys.Descending(d => d.SubmittedAt).Descending(d => d.Id),
                        new CreateIndexOptions { Name = "page" }),
                    new CreateIndexModel<JobDocument>(
                        keys.Ascending(d => d.Status).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                        new CreateIndexOptions { Name = "status_page" }),
                    new CreateIndexModel<JobDocument>(
                        keys.Ascending(d => d.Model).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                        new CreateIndexOptions { Name = "model_page" }),
                    new CreateIndexModel<JobDocument>(
                        keys.Ascending(d => d.Kind).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                        new CreateIndexOptions { Name = "kind_page" }),
                    new CreateIndexModel<JobDocument>(
                        keys.Ascending(d => d.TenantId).Descending(d => d.SubmittedAt).Descending(d => d.Id),
                        new CreateIndexOptions { Name = "tenant_page" }),
                    new CreateIndexModel<JobDocument>(
                        keys.Ascending(d => d.Model).Ascending(d => d.Status),
                        new CreateIndexOptions { Name = "model_status" }),
                ],
                cancellationToken);

            await _models.Indexes.CreateOneAsync(
                new CreateIndexModel<ModelDocument>(
                    Builders<ModelDocument>.IndexKeys.Ascending(d => d.Name).Ascending(d => d.Version),
                    new CreateIndexOptions { Name = "name_version", Unique = true }),
                cancellationToken: cancellationToken);
            await EnsureTrainingIndexesAsync(cancellationToken);
            await EnsureTenantIndexesAsync(cancellationToken);
            await EnsureWebhookIndexesAsync(cancellationToken);
            await EnsureBulkIndexesAsync(cancellationToken);
            await EnsureRetentionIndexesAsync(cancellationToken);

            _indexesReady = true;
        }
        finally
        {
            _indexGate.Release();
        }
    }

    /// <summary>Disposes the client when this store created it.</summary>
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
