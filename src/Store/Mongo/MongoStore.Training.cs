using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;

namespace AIaaS.Queue.Store;

// Train jobs in "train_jobs" (request and work-queue state), their events in "job_events" (unique on job and
// sequence), uploaded data files in the GridFS bucket "datasets" with their records in "datasets". Requests and events
// are stored as JSON strings: read and written whole, never queried field by field. Guids are standard UUIDs.
public sealed partial class MongoStore
{
    private const string TrainJobsCollection = "train_jobs";
    private const string EventsCollection = "job_events";
    private const string DatasetsCollection = "datasets";
    private const string DatasetsBucket = "datasets";

    private static readonly FilterDefinitionBuilder<BsonDocument> Doc = Builders<BsonDocument>.Filter;
    private static readonly UpdateDefinitionBuilder<BsonDocument> DocUpdate = Builders<BsonDocument>.Update;

    private IMongoCollection<BsonDocument> TrainJobs => _database.GetCollection<BsonDocument>(TrainJobsCollection);
    private IMongoCollection<BsonDocument> Events => _database.GetCollection<BsonDocument>(EventsCollection);
    private IMongoCollection<BsonDocument> Datasets => _database.GetCollection<BsonDocument>(DatasetsCollection);

    private GridFSBucket DatasetFiles => new(_database, new GridFSBucketOptions { BucketName = DatasetsBucket, ChunkSizeBytes = FileChunkSize });

    private static BsonBinaryData Id(Guid id) => new(id, GuidRepresentation.Standard);

    private async Task EnsureTrainingIndexesAsync(CancellationToken cancellationToken)
    {
        await _models.Indexes.CreateOneAsync(
            new CreateIndexModel<ModelDocument>(
                Builders<ModelDocument>.IndexKeys.Ascending(d => d.TrainingJobId),
                new CreateIndexOptions<ModelDocument>
                {
                    Name = "training_job",
                    Unique = true,
                    PartialFilterExpression = Builders<ModelDocument>.Filter.Exists(d => d.TrainingJobId),
                }),
            cancellationToken: cancellationToken);
        await TrainJobs.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("state").Ascending("queuedAt"),
                new CreateIndexOptions { Name = "state_queued" }), cancellationToken: cancellationToken);
        await Events.Indexes.CreateOneAsync(
            new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("jobId").Ascending("seq"),
                new CreateIndexOptions { Name = "job_seq", Unique = true }), cancellationToken: cancellationToken);
    }

    private Task<ModelDocument?> FindByTrainingJobAsync(Guid trainingJobId, CancellationToken cancellationToken) =>
        _models.Find(ModelFilter.Eq(d => d.TrainingJobId, trainingJobId)).FirstOrDefaultAsync(cancellationToken)!;

    public async Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(Guid trainingJobId, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        return (await FindByTrainingJobAsync(trainingJobId, cancellationToken))?.ToRecord();
    }

    public async Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await EnsureIndexesAsync(cancellationToken);
        var now = _time.GetUtcNow();
        try
        {
            await TrainJobs.InsertOneAsync(new BsonDocument
            {
                ["_id"] = Id(request.JobId),
                ["request"] = JsonSerializer.Serialize(request, StoreJson.Options),
                ["queuedAt"] = now.UtcTicks,
                ["state"] = "Queued",
                ["attempts"] = 0,
                ["cancelRequested"] = false,
            }, cancellationToken: cancellationToken);
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }

        await InsertIfAbsentAsync([new JobRecord
        {
            JobId = request.JobId,
            TenantId = Tenants.OrDefault(request.Sender?.TenantId),
            Kind = JobKind.Train,
            Model = request.Model,
            Status = JobStatus.Queued,
            SubmittedAt = request.SubmittedAt,
        }], cancellationToken);
        await AppendJobEventsAsync(request.JobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.Queued, At = now }], cancellationToken);
        return true;
    }

    public async Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        await EnsureIndexesAsync(cancellationToken);
        for (var candidates = 0; candidates < 50; candidates++)
        {
            var now = _time.GetUtcNow();
            var claimable = Doc.Or(Doc.Eq("state", "Queued"), Doc.And(Doc.Eq("state", "Running"), Doc.Lt("leaseUntil", now.UtcTicks)));

            // One atomic step takes the job from whoever lost it; what it was before decides what happens next.
            var before = await TrainJobs.FindOneAndUpdateAsync(
                claimable,
                DocUpdate.Set("state", "Running").Set("leaseOwner", workerId).Set("leaseUntil", (now + lease).UtcTicks).Inc("attempts", 1),
                new FindOneAndUpdateOptions<BsonDocument> { Sort = Builders<BsonDocument>.Sort.Ascending("queuedAt"), ReturnDocument = ReturnDocument.Before },
                cancellationToken);
            if (before is null)
            {
                return null;
            }

            var id = before["_id"].AsGuid;
            var request = JsonSerializer.Deserialize<SubmitTrainJob>(before["request"].AsString, StoreJson.Options)!;
            var attempts = before["attempts"].ToInt32();
            var wasRunning = before["state"].AsString == "Running";
            var owner = before.GetValue("leaseOwner", BsonNull.Value) is { IsString: true } o ? o.AsString : null;
            var lastError = before.GetValue("lastError", BsonNull.Value) is { IsString: true } e ? e.AsString : null;
            var cancelRequested = before.GetValue("cancelRequested", false).ToBoolean();

            var events = new List<JobEventView>();
            if (wasRunning)
            {
                lastError = $"worker {owner} stopped renewing its lease on attempt {attempts} (it crashed or was stopped)";
                events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.AttemptFailed, At = now, Attempt = attempts, Message = lastError });
            }

            var byId = Doc.Eq("_id", Id(id));
            if (cancelRequested || attempts >= maxAttempts)
            {
                var (status, error) = cancelRequested
                    ? (JobStatus.Cancelled, "cancelled")
                    : (JobStatus.Failed, $"gave up after {attempts} attempt(s): {lastError}");
                await TrainJobs.UpdateOneAsync(byId,
                    DocUpdate.Set("state", "Done").Set("attempts", attempts).Unset("leaseOwner").Unset("leaseUntil").Set("lastError", lastError ?? error),
                    cancellationToken: cancellationToken);
                await UpdateJobRowAsync(id, status, now, owner, error, completed: true, cancellationToken);
                events.Add(new JobEventView { Sequence = 0, Type = status.ToString().ToLowerInvariant(), At = now, Message = error });
                await AppendJobEventsAsync(id, events, cancellationToken);
                settled?.Add(new SettledTrainJob(request, status, error));
                continue;
            }

            if (lastError is not null)
            {
                await TrainJobs.UpdateOneAsync(byId, DocUpdate.Set("lastError", lastError), cancellationToken: cancellationToken);
            }

            await UpdateJobRowAsync(id, JobStatus.Running, now, workerId, error: null, completed: false, cancellationToken);
            events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.Started, At = now, Attempt = attempts + 1, Message = $"worker {workerId}" });
            await AppendJobEventsAsync(id, events, cancellationToken);
            return new TrainJobClaim(request, attempts + 1, lastError);
        }

        return null;
    }

    private Task UpdateJobRowAsync(Guid id, JobStatus status, DateTimeOffset now, string? workerId, string? error, bool completed,
        CancellationToken cancellationToken)
    {
        var update = Builders<JobDocument>.Update.Set(d => d.Status, status).Set(d => d.Error, error);
        update = completed ? update.Set(d => d.CompletedAt, now.UtcTicks) : update.Set(d => d.StartedAt, now.UtcTicks);
        if (workerId is not null)
        {
            update = update.Set(d => d.WorkerId, workerId);
        }

        return _jobs.UpdateOneAsync(JobFilter.Eq(d => d.Id, id), update, cancellationToken: cancellationToken);
    }

    private static FilterDefinition<BsonDocument> Held(Guid jobId, string workerId) =>
        Doc.And(Doc.Eq("_id", Id(jobId)), Doc.Eq("leaseOwner", workerId), Doc.Eq("state", "Running"));

    public async Task<TrainLeaseState> RenewTrainLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var after = await TrainJobs.FindOneAndUpdateAsync(Held(jobId, workerId),
            DocUpdate.Set("leaseUntil", (_time.GetUtcNow() + lease).UtcTicks),
            new FindOneAndUpdateOptions<BsonDocument> { ReturnDocument = ReturnDocument.After }, cancellationToken);
        return after is null ? new TrainLeaseState(false, false) : new TrainLeaseState(true, after.GetValue("cancelRequested", false).ToBoolean());
    }

    public async Task ReleaseTrainJobAsync(Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var result = await TrainJobs.UpdateOneAsync(Held(jobId, workerId),
            DocUpdate.Set("state", "Queued").Unset("leaseOwner").Unset("leaseUntil").Set("lastError", reason), cancellationToken: cancellationToken);
        if (result.ModifiedCount > 0)
        {
            await UpdateJobRowAsync(jobId, JobStatus.Queued, _time.GetUtcNow(), workerId, reason, completed: false, cancellationToken);
        }
    }

    public async Task<SubmitTrainJob?> GetTrainRequestAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        var document = await TrainJobs.Find(Doc.Eq("_id", Id(jobId))).Project(Builders<BsonDocument>.Projection.Include("request"))
            .FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : JsonSerializer.Deserialize<SubmitTrainJob>(document["request"].AsString, StoreJson.Options);
    }

    public async Task<JobStatus?> RequestCancelAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var now = _time.GetUtcNow();
        var byId = Doc.Eq("_id", Id(jobId));

        // A queued job is taken out of the queue in one step, so no worker can claim it afterwards.
        var wasQueued = await TrainJobs.FindOneAndUpdateAsync(Doc.And(byId, Doc.Eq("state", "Queued")),
            DocUpdate.Set("state", "Done").Set("cancelRequested", true), cancellationToken: cancellationToken);
        if (wasQueued is not null)
        {
            await UpdateJobRowAsync(jobId, JobStatus.Cancelled, now, null, "cancelled before it started", completed: true, cancellationToken);
            await AppendJobEventsAsync(jobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.Cancelled, At = now, Message = "cancelled before it started" }], cancellationToken);
            return JobStatus.Cancelled;
        }

        var wasRunning = await TrainJobs.FindOneAndUpdateAsync(Doc.And(byId, Doc.Eq("state", "Running")),
            DocUpdate.Set("cancelRequested", true), cancellationToken: cancellationToken);
        if (wasRunning is not null)
        {
            await AppendJobEventsAsync(jobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.CancelRequested, At = now }], cancellationToken);
            return JobStatus.Running;
        }

        return (await GetAsync(jobId, cancellationToken))?.Status;
    }

    public async Task<bool> FinishTrainJobAsync(Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var update = DocUpdate.Set("state", "Done").Unset("leaseOwner").Unset("leaseUntil");
        if (error is not null)
        {
            update = update.Set("lastError", error);
        }

        var result = await TrainJobs.UpdateOneAsync(Held(jobId, workerId), update, cancellationToken: cancellationToken);
        if (result.ModifiedCount == 0)
        {
            return false;
        }

        // Before the job row, so that a reader who sees the final status finds the closing event.
        await AppendJobEventsAsync(jobId, [TrainQueueRules.Closing(status, eventMessage, _time.GetUtcNow())], cancellationToken);
        await _jobs.UpdateOneAsync(JobFilter.Eq(d => d.Id, jobId), Builders<JobDocument>.Update
            .Set(d => d.Status, status)
            .Set(d => d.CompletedAt, _time.GetUtcNow().UtcTicks)
            .Set(d => d.ModelVersion, modelVersion)
            .Set(d => d.Device, device)
            .Set(d => d.Error, error)
            .Set(d => d.WorkerId, workerId), cancellationToken: cancellationToken);
        return true;
    }

    // ---- events ----

    public async Task AppendJobEventsAsync(Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        await EnsureIndexesAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var last = await Events.Find(Doc.Eq("jobId", Id(jobId))).Sort(Builders<BsonDocument>.Sort.Descending("seq")).Limit(1)
                .FirstOrDefaultAsync(cancellationToken);
            var next = last is null ? 1L : last["seq"].ToInt64() + 1;
            var documents = events.Select((e, i) =>
            {
                var numbered = e with { Sequence = next + i };
                return new BsonDocument
                {
                    ["jobId"] = Id(jobId),
                    ["seq"] = numbered.Sequence,
                    ["body"] = JsonSerializer.Serialize(numbered, StoreJson.Options),
                };
            }).ToList();
            try
            {
                // Ordered: a race on one number stops at the first duplicate, and the batch is numbered again.
                await Events.InsertManyAsync(documents, new InsertManyOptions { IsOrdered = true }, cancellationToken);
                return;
            }
            catch (MongoBulkWriteException<BsonDocument> ex) when (attempt < 20
                && ex.WriteErrors.All(w => w.Category == ServerErrorCategory.DuplicateKey) && ex.WriteErrors.Count > 0 && ex.WriteErrors[0].Index == 0)
            {
            }
        }
    }

    public async Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        await EnsureIndexesAsync(cancellationToken);
        var documents = await Events.Find(Doc.And(Doc.Eq("jobId", Id(jobId)), Doc.Gt("seq", afterSequence)))
            .Sort(Builders<BsonDocument>.Sort.Ascending("seq")).Limit(Math.Clamp(limit, 1, 10_000)).ToListAsync(cancellationToken);
        return documents.ConvertAll(d => JsonSerializer.Deserialize<JobEventView>(d["body"].AsString, StoreJson.Options)!);
    }

    // ---- datasets ----

    public async Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(content);
        await EnsureIndexesAsync(cancellationToken);
        var fileId = ObjectId.GenerateNewId();
        using var hashing = new HashingReadStream(content);
        await DatasetFiles.UploadFromStreamAsync(fileId, name, hashing,
            new GridFSUploadOptions { ChunkSizeBytes = FileChunkSize }, cancellationToken);
        var dataset = new DatasetView
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Name = name,
            SizeBytes = hashing.BytesRead,
            Sha256 = hashing.Sha256Hex(),
            CreatedAt = JobCursor.FromUtcTicks(_time.GetUtcNow().UtcTicks),
        };
        await Datasets.InsertOneAsync(new BsonDocument
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
        await EnsureIndexesAsync(cancellationToken);
        var d = await Datasets.Find(DatasetFilter(tenantId, id)).FirstOrDefaultAsync(cancellationToken);
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
        await EnsureIndexesAsync(cancellationToken);
        var d = await Datasets.Find(DatasetFilter(tenantId, id)).FirstOrDefaultAsync(cancellationToken)
            ?? throw new KeyNotFoundException($"No dataset with id '{id}' is stored.");
        if (d.GetValue("expiredAt", BsonNull.Value) is { IsInt64: true } expired)
        {
            throw new StoredObjectExpiredException($"The content of dataset '{id}' was removed under its tenant's retention.",
                JobCursor.FromUtcTicks(expired.AsInt64));
        }

        await DatasetFiles.DownloadToStreamAsync(d["fileId"].AsObjectId, destination, cancellationToken: cancellationToken);
    }

    /// <summary>The tenant's data file; files stored before tenants existed have no tenant and are the default tenant's.</summary>
    private static FilterDefinition<BsonDocument> DatasetFilter(string tenantId, string id) => Doc.And(
        Doc.Eq("_id", id),
        tenantId == Tenants.DefaultTenantId ? Doc.In("tenantId", [BsonValue.Create(tenantId), BsonNull.Value]) : Doc.Eq("tenantId", tenantId));
}
