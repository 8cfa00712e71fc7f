using System.Text.Json;
using AIaaS.Queue.Contracts;
using MongoDB.Bson;
using MongoDB.Driver;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>
/// The distributed store's train queue: request and work-queue state in "train_jobs" (keyed by tenantId and jobId, as jobs
/// are), stored as a JSON string and read whole. Standalone servers have no transactions, so each change is a conditional single-document update that decides
/// who won, followed by the job row and the events; what a claim or a cancel does is <see cref="TrainQueueRules"/>' decision.
/// </summary>
public sealed class MongoTrainingQueue(MongoDatabaseContext context) : ITrainingQueue
{
    private readonly MongoJobStore _jobs = new(context);
    private readonly MongoJobEventStore _events = new(context);

    public async Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await context.EnsureIndexesAsync(cancellationToken);
        var now = context.Time.GetUtcNow();
        var queued = TrainQueueRules.QueuedJob(request);
        try
        {
            await context.TrainJobs.InsertOneAsync(new BsonDocument
            {
                ["tenantId"] = queued.TenantId,
                ["jobId"] = Id(request.JobId),
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

        await _jobs.InsertIfAbsentAsync([queued], cancellationToken);
        await _events.AppendJobEventsAsync(queued.TenantId, request.JobId, [TrainQueueRules.QueuedEvent(now)], cancellationToken);
        return true;
    }

    public async Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        await context.EnsureIndexesAsync(cancellationToken);
        for (var candidates = 0; candidates < 50; candidates++)
        {
            var now = context.Time.GetUtcNow();
            var claimable = Doc.Or(Doc.Eq("state", "Queued"), Doc.And(Doc.Eq("state", "Running"), Doc.Lt("leaseUntil", now.UtcTicks)));

            // One atomic step takes the job from whoever lost it; what it was before decides what happens next.
            var before = await context.TrainJobs.FindOneAndUpdateAsync(
                claimable,
                DocUpdate.Set("state", "Running").Set("leaseOwner", workerId).Set("leaseUntil", (now + lease).UtcTicks).Inc("attempts", 1),
                new FindOneAndUpdateOptions<BsonDocument> { Sort = Builders<BsonDocument>.Sort.Ascending("queuedAt"), ReturnDocument = ReturnDocument.Before },
                cancellationToken);
            if (before is null)
            {
                return null;
            }

            var tenantId = before["tenantId"].AsString;
            var entry = new TrainQueueEntry(
                before["jobId"].AsGuid,
                JsonSerializer.Deserialize<SubmitTrainJob>(before["request"].AsString, StoreJson.Options)!,
                TrainQueueRules.ParseState(before["state"].AsString),
                before["attempts"].ToInt32(),
                before.GetValue("leaseOwner", BsonNull.Value) is { IsString: true } o ? o.AsString : null,
                before.GetValue("cancelRequested", false).ToBoolean(),
                before.GetValue("lastError", BsonNull.Value) is { IsString: true } e ? e.AsString : null);
            var decision = TrainQueueRules.Claim(entry, workerId, maxAttempts, now);
            var byId = DocKeyIs(tenantId, entry.JobId);
            if (!decision.Claimed)
            {
                // The claim above counted an attempt that does not run: the entry keeps the count it had.
                await context.TrainJobs.UpdateOneAsync(byId,
                    DocUpdate.Set("state", "Done").Set("attempts", decision.Attempts).Unset("leaseOwner").Unset("leaseUntil")
                        .Set("lastError", decision.LastError ?? decision.Error),
                    cancellationToken: cancellationToken);
                await UpdateJobRowAsync(tenantId, entry.JobId, decision.Status, now, decision.WorkerId, decision.Error, completed: true, cancellationToken);
                await _events.AppendJobEventsAsync(tenantId, entry.JobId, decision.Events, cancellationToken);
                settled?.Add(new SettledTrainJob(entry.Request, decision.Status, decision.Error!));
                continue;
            }

            if (decision.LastError is not null)
            {
                await context.TrainJobs.UpdateOneAsync(byId, DocUpdate.Set("lastError", decision.LastError), cancellationToken: cancellationToken);
            }

            await UpdateJobRowAsync(tenantId, entry.JobId, JobStatus.Running, now, decision.WorkerId, error: null, completed: false, cancellationToken);
            await _events.AppendJobEventsAsync(tenantId, entry.JobId, decision.Events, cancellationToken);
            return new TrainJobClaim(entry.Request, decision.Attempts, decision.LastError);
        }

        return null;
    }

    private Task UpdateJobRowAsync(string tenantId, Guid id, JobStatus status, DateTimeOffset now, string? workerId, string? error, bool completed,
        CancellationToken cancellationToken)
    {
        var update = Builders<JobDocument>.Update.Set(d => d.Status, status).Set(d => d.Error, error);
        update = completed ? update.Set(d => d.CompletedAt, now.UtcTicks) : update.Set(d => d.StartedAt, now.UtcTicks);
        if (workerId is not null)
        {
            update = update.Set(d => d.WorkerId, workerId);
        }

        return context.Jobs.UpdateOneAsync(JobKeyIs(tenantId, id), update, cancellationToken: cancellationToken);
    }

    private static FilterDefinition<BsonDocument> Held(string tenantId, Guid jobId, string workerId) =>
        Doc.And(DocKeyIs(tenantId, jobId), Doc.Eq("leaseOwner", workerId), Doc.Eq("state", "Running"));

    public async Task<TrainLeaseState> RenewTrainLeaseAsync(string tenantId, Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var after = await context.TrainJobs.FindOneAndUpdateAsync(Held(tenantId, jobId, workerId),
            DocUpdate.Set("leaseUntil", (context.Time.GetUtcNow() + lease).UtcTicks),
            new FindOneAndUpdateOptions<BsonDocument> { ReturnDocument = ReturnDocument.After }, cancellationToken);
        return after is null ? new TrainLeaseState(false, false) : new TrainLeaseState(true, after.GetValue("cancelRequested", false).ToBoolean());
    }

    public async Task ReleaseTrainJobAsync(string tenantId, Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var result = await context.TrainJobs.UpdateOneAsync(Held(tenantId, jobId, workerId),
            DocUpdate.Set("state", "Queued").Unset("leaseOwner").Unset("leaseUntil").Set("lastError", reason), cancellationToken: cancellationToken);
        if (result.ModifiedCount > 0)
        {
            await UpdateJobRowAsync(tenantId, jobId, JobStatus.Queued, context.Time.GetUtcNow(), workerId, reason, completed: false, cancellationToken);
        }
    }

    public async Task<SubmitTrainJob?> GetTrainRequestAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await context.TrainJobs.Find(DocKeyIs(tenantId, jobId)).Project(Builders<BsonDocument>.Projection.Include("request"))
            .FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : JsonSerializer.Deserialize<SubmitTrainJob>(document["request"].AsString, StoreJson.Options);
    }

    public async Task<JobStatus?> RequestCancelAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var now = context.Time.GetUtcNow();
        var byId = DocKeyIs(tenantId, jobId);

        // A queued job is taken out of the queue in one step, so no worker can claim it afterwards.
        var wasQueued = await context.TrainJobs.FindOneAndUpdateAsync(Doc.And(byId, Doc.Eq("state", "Queued")),
            DocUpdate.Set("state", "Done").Set("cancelRequested", true), cancellationToken: cancellationToken);
        if (wasQueued is not null && TrainQueueRules.Cancel(TrainQueueState.Queued, now) is { } cancelled)
        {
            await UpdateJobRowAsync(tenantId, jobId, cancelled.Status, now, null, cancelled.Error, completed: true, cancellationToken);
            await _events.AppendJobEventsAsync(tenantId, jobId, [cancelled.Event], cancellationToken);
            return cancelled.Status;
        }

        var wasRunning = await context.TrainJobs.FindOneAndUpdateAsync(Doc.And(byId, Doc.Eq("state", "Running")),
            DocUpdate.Set("cancelRequested", true), cancellationToken: cancellationToken);
        if (wasRunning is not null && TrainQueueRules.Cancel(TrainQueueState.Running, now) is { } flagged)
        {
            await _events.AppendJobEventsAsync(tenantId, jobId, [flagged.Event], cancellationToken);
            return flagged.Status;
        }

        return (await _jobs.GetAsync(tenantId, jobId, cancellationToken))?.Status;
    }

    public async Task<bool> FinishTrainJobAsync(string tenantId, Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var update = DocUpdate.Set("state", "Done").Unset("leaseOwner").Unset("leaseUntil");
        if (error is not null)
        {
            update = update.Set("lastError", error);
        }

        var result = await context.TrainJobs.UpdateOneAsync(Held(tenantId, jobId, workerId), update, cancellationToken: cancellationToken);
        if (result.ModifiedCount == 0)
        {
            return false;
        }

        // Before the job row, so that a reader who sees the final status finds the closing event.
        await _events.AppendJobEventsAsync(tenantId, jobId, [TrainQueueRules.Closing(status, eventMessage, context.Time.GetUtcNow())], cancellationToken);
        await context.Jobs.UpdateOneAsync(JobKeyIs(tenantId, jobId), Builders<JobDocument>.Update
            .Set(d => d.Status, status)
            .Set(d => d.CompletedAt, context.Time.GetUtcNow().UtcTicks)
            .Set(d => d.ModelVersion, modelVersion)
            .Set(d => d.Device, device)
            .Set(d => d.Error, error)
            .Set(d => d.WorkerId, workerId), cancellationToken: cancellationToken);
        return true;
    }
}
