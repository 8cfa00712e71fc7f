using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Driver;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>The distributed store's jobs, in collection "jobs".</summary>
public sealed class MongoJobStore(MongoDatabaseContext context) : IJobStore
{
    private static readonly ProjectionDefinition<JobDocument> WithoutOutputs = Builders<JobDocument>.Projection.Exclude(d => d.Outputs).Exclude(d => d.Explanation);
    private static readonly SortDefinition<JobDocument> NewestFirst =
        Builders<JobDocument>.Sort.Descending(d => d.SubmittedAt).Descending(d => d.Id);

    public async Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (jobs.Count == 0)
        {
            return;
        }

        await context.EnsureIndexesAsync(cancellationToken);
        var requests = JobCursor.Distinct(jobs, keepLast: false).Select(InsertIfAbsentModel).ToList();
        try
        {
            await context.Jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
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
        return new UpdateOneModel<JobDocument>(OwnJob(job), new BsonDocument("$setOnInsert", fields))
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

        await context.EnsureIndexesAsync(cancellationToken);
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
                await context.Jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
                return;
            }
            catch (MongoBulkWriteException<JobDocument> ex) when (IsOnlyDuplicateKeys(ex))
            {
                // Concurrent upserts of one new (tenant, id): the loser's insert hit the winner's. Replacing is idempotent,
                // so the failed requests are simply sent again and now match the existing document.
                if (attempt >= 3)
                {
                    return;
                }

                requests = ex.WriteErrors.Select(e => requests[e.Index]).ToList();
            }
        }
    }

    public async Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var written = new HashSet<JobKey>();
        if (jobs.Count == 0)
        {
            return written;
        }

        await context.EnsureIndexesAsync(cancellationToken);
        var list = JobCursor.Distinct(jobs, keepLast: true).ToList();

        // Replace only a job that is not final; for a final one the filter matches nothing, the upsert tries to insert its
        // (tenant, id) and the unique "tenant_job" index refuses: that duplicate-key error is this store's "already final".
        var requests = list.Select(job => (WriteModel<JobDocument>)new ReplaceOneModel<JobDocument>(
                JobFilter.And(OwnJob(job), JobFilter.Nin(d => d.Status, JobStoreRules.FinalStatuses)), JobDocument.From(job))
            {
                IsUpsert = true,
            })
            .ToList();
        var refused = new HashSet<int>();
        try
        {
            await context.Jobs.BulkWriteAsync(requests, new BulkWriteOptions { IsOrdered = false }, cancellationToken);
        }
        catch (MongoBulkWriteException<JobDocument> ex) when (IsOnlyDuplicateKeys(ex))
        {
            refused.UnionWith(ex.WriteErrors.Select(e => e.Index));
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (!refused.Contains(i))
            {
                written.Add(JobKey.Of(list[i]));
            }
        }

        return written;
    }

    /// <summary>The stored job under this record's tenant and id: the key of every write.</summary>
    private static FilterDefinition<JobDocument> OwnJob(JobRecord job) => JobKeyIs(job.TenantId, job.JobId);

    public async Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await context.Jobs.Find(JobKeyIs(tenantId, jobId)).FirstOrDefaultAsync(cancellationToken);
        return document?.ToRecord();
    }

    public async Task<IReadOnlyList<JobRecord>> GetManyAsync(
        IReadOnlyCollection<JobKey> keys, bool includeOutputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            return [];
        }

        await context.EnsureIndexesAsync(cancellationToken);
        var asked = keys.Distinct().ToList();

        // One $in per tenant (a batch is almost always one tenant's), each a range of the "tenant_job" index.
        var find = context.Jobs.Find(JobFilter.Or(asked.GroupBy(k => k.TenantId).Select(tenant =>
            JobFilter.And(JobFilter.Eq(d => d.TenantId, tenant.Key), JobFilter.In(d => d.Id, tenant.Select(k => k.JobId))))));
        var documents = includeOutputs
            ? await find.ToListAsync(cancellationToken)
            : await find.Project<JobDocument>(WithoutOutputs).ToListAsync(cancellationToken);

        // In the order asked, as the embedded store answers.
        var byKey = documents.ToDictionary(d => new JobKey(Tenants.OrDefault(d.TenantId), d.Id));
        return asked.Where(byKey.ContainsKey).Select(key => byKey[key].ToRecord()).ToList();
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
        await context.EnsureIndexesAsync(cancellationToken);
        var count = await context.Jobs.CountDocumentsAsync(JobFilter.And(JobFilter.Eq(d => d.Model, model), JobFilter.Eq(d => d.Status, status)),
            new CountOptions { Limit = limit, Hint = "model_status" }, cancellationToken);
        return (int)count;
    }

    public async Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = JobCursor.ClampLimit(query.Limit);

        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.Jobs
            .Find(ListFilter(query))
            .Project<JobDocument>(WithoutOutputs)
            .Sort(NewestFirst)
            .Limit(limit + 1)
            .ToListAsync(cancellationToken);

        var items = documents.Take(limit).Select(d => d.ToRecord()).ToList();
        return new JobPage(items, documents.Count > limit ? JobCursor.Encode(items[^1]) : null);
    }

    /// <summary>The tenant's jobs; documents without a tenant (stored before tenants existed) are the default tenant's.</summary>
    internal static FilterDefinition<JobDocument> TenantIs(string tenantId) => tenantId == Tenants.DefaultTenantId
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
}
