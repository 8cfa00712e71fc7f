using AIaaS.Queue.Contracts;
using MongoDB.Bson;
using MongoDB.Driver;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

// Bulk jobs in "bulk_jobs" (unique on tenantId and jobId: ids are per tenant), chunk inputs in "bulk_chunk_inputs" and
// chunk results in "bulk_chunk_results" (each unique on tenantId, bulkId and index; payloads and lines as BinData, a chunk being far below the 16 MB document limit).
//
// Counting once per chunk without a transaction (standalone servers have none): the chunk document is inserted first
// (its unique index lets the first save win), then the job's counters move in one single-document update guarded by the
// job's own ledger of counted chunks: { tenantId, jobId, resultChunks: { $ne: i } } with $push of i and $inc of the counts. That
// update is idempotent by itself, so a process that dies between the two writes leaves a stored but uncounted chunk,
// which the next save of that chunk (the redelivered message, or the re-split) counts, with the counts stored first.
// No window is left where a chunk is counted twice or never, as long as a lost chunk is saved again, which message
// redelivery guarantees. The ledgers cost about 12 bytes a chunk in the job document, hence the chunk limit below.
public sealed class MongoBulkStore(MongoDatabaseContext context) : IBulkStore
{
    internal const string InputLedger = "inputChunks";
    internal const string ResultLedger = "resultChunks";

    /// <summary>Both ledgers of a job this large stay near 6 MB, well inside a 16 MB document.</summary>
    internal const int MaxBulkChunks = 250_000;

    /// <summary>What a chunk's bytes may add up to: a 16 MiB document less room for the other fields.</summary>
    internal const int MaxBulkChunkBytes = 16 * 1024 * 1024 - 64 * 1024;

    private static readonly FilterDefinitionBuilder<BulkJobDocument> BulkFilter = Builders<BulkJobDocument>.Filter;
    private static readonly UpdateDefinitionBuilder<BulkJobDocument> BulkUpdate = Builders<BulkJobDocument>.Update;
    private static readonly ProjectionDefinition<BulkJobDocument> WithoutLedgers =
        Builders<BulkJobDocument>.Projection.Exclude(InputLedger).Exclude(ResultLedger);
    private static readonly ProjectionDefinition<BulkJobDocument> ProgressOnly =
        Builders<BulkJobDocument>.Projection.Include(d => d.ChunksDone).Include(d => d.ChunksTotal).Include(d => d.ChunksSkipped);



    public async Task<bool> CreateBulkJobAsync(BulkJobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        await context.EnsureIndexesAsync(cancellationToken);
        try
        {
            await context.BulkJobs.InsertOneAsync(BulkJobDocument.From(job), cancellationToken: cancellationToken);
            return true;
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    public async Task<BulkJobRecord?> GetBulkJobAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        return (await FindBulkJobAsync(tenantId, bulkJobId, WithoutLedgers, cancellationToken))?.ToRecord();
    }

    private static FilterDefinition<BulkJobDocument> BulkKeyIs(string tenantId, Guid bulkJobId) =>
        BulkFilter.And(BulkFilter.Eq(d => d.TenantId, tenantId), BulkFilter.Eq(d => d.Id, bulkJobId));

    private Task<BulkJobDocument?> FindBulkJobAsync(string tenantId, Guid bulkJobId, ProjectionDefinition<BulkJobDocument> projection,
        CancellationToken cancellationToken) =>
        context.BulkJobs.Find(BulkKeyIs(tenantId, bulkJobId)).Project<BulkJobDocument>(projection).FirstOrDefaultAsync(cancellationToken)!;

    public async Task<IReadOnlyList<BulkJobRecord>> ListBulkJobsAsync(string tenantId, int limit, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.BulkJobs.Find(BulkFilter.Eq(d => d.TenantId, tenantId))
            .Project<BulkJobDocument>(WithoutLedgers)
            .Sort(Builders<BulkJobDocument>.Sort.Descending(d => d.SubmittedAt).Descending(d => d.Id))
            .Limit(JobCursor.ClampLimit(limit))
            .ToListAsync(cancellationToken);
        return documents.ConvertAll(d => d.ToRecord());
    }

    public async Task<BulkJobRecord?> TransitionBulkJobAsync(string tenantId, Guid bulkJobId, IReadOnlyCollection<BulkJobStatus> from, BulkJobStatus to,
        int? modelVersion = null, string? error = null, BulkInputFormat? format = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        await context.EnsureIndexesAsync(cancellationToken);
        var moved = await context.BulkJobs.FindOneAndUpdateAsync(
            BulkFilter.And(BulkKeyIs(tenantId, bulkJobId), BulkFilter.In(d => d.Status, from)),
            TransitionUpdate(BulkStoreRules.Transition(to, context.Time.GetUtcNow().UtcTicks, modelVersion, error, format)),
            new FindOneAndUpdateOptions<BulkJobDocument> { ReturnDocument = ReturnDocument.After, Projection = WithoutLedgers },
            cancellationToken);
        return (moved ?? await FindBulkJobAsync(tenantId, bulkJobId, WithoutLedgers, cancellationToken))?.ToRecord();
    }

    /// <summary>A pipeline update, so that StartedAt is set only where it is missing, in the same atomic step. Values go in
    /// as $literal: an error text starting with '$' must not be read as a field path.</summary>
    internal static UpdateDefinition<BulkJobDocument> TransitionUpdate(BulkTransition move)
    {
        static BsonDocument Literal(BsonValue value) => new("$literal", value);

        var set = new BsonDocument("status", Literal(move.To.ToString()));
        if (move.Format is { } detected)
        {
            set["format"] = Literal(detected.ToString());
        }

        if (move.StartsIfNotStarted)
        {
            set["startedAt"] = new BsonDocument("$ifNull", new BsonArray { "$startedAt", Literal(move.NowTicks) });
        }

        if (move.ModelVersion is { } version)
        {
            set["modelVersion"] = Literal(version);
        }

        if (move.Ends)
        {
            set["completedAt"] = Literal(move.NowTicks);
        }

        if (move.SetsError)
        {
            set["error"] = Literal(move.Error is null ? BsonNull.Value : new BsonString(move.Error));
        }

        return BulkUpdate.Pipeline(new BsonDocument[] { new("$set", set) });
    }

    public async Task<bool> SaveBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, int recordCount, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken = default)
    {
        CheckBulkChunk(chunkIndex, payload.Length);
        BulkStoreRules.CheckChunk(chunkIndex, recordCount);
        await context.EnsureIndexesAsync(cancellationToken);
        var chunk = ChunkKey(tenantId, bulkJobId, chunkIndex);
        chunk["records"] = recordCount;
        chunk["payload"] = new BsonBinaryData(payload.ToArray());
        var (inserted, stored) = await InsertChunkAsync(context.BulkInputs, chunk, "records", cancellationToken);
        var records = stored?["records"].ToInt32() ?? recordCount;

        var counted = await CountChunkOnceAsync(tenantId, bulkJobId, InputLedger, chunkIndex, BulkUpdate.Inc(d => d.Total, (long)records),
            context.BulkInputs, inserted, cancellationToken);
        return counted.Recorded;
    }

    public async Task<byte[]?> GetBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var chunk = await context.BulkInputs.Find(ChunkKey(tenantId, bulkJobId, chunkIndex))
            .Project(Builders<BsonDocument>.Projection.Include("payload"))
            .FirstOrDefaultAsync(cancellationToken);
        return chunk?.GetValue("payload", BsonNull.Value) is { IsBsonBinaryData: true } payload ? payload.AsByteArray : null;
    }

    public async Task<BulkProgress> CompleteBulkSplitAsync(string tenantId, Guid bulkJobId, int chunkCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chunkCount);
        await context.EnsureIndexesAsync(cancellationToken);

        // The first count stands (null also matches a missing field): a re-split of the same file finds the same chunks.
        var set = await context.BulkJobs.FindOneAndUpdateAsync(
            BulkFilter.And(BulkKeyIs(tenantId, bulkJobId), BulkFilter.Eq(d => d.ChunksTotal, null)),
            BulkUpdate.Set(d => d.ChunksTotal, chunkCount),
            new FindOneAndUpdateOptions<BulkJobDocument> { ReturnDocument = ReturnDocument.After, Projection = ProgressOnly },
            cancellationToken);
        return set?.ToProgress(recorded: true) ?? await ProgressAsync(tenantId, bulkJobId, cancellationToken);
    }

    public async Task<BulkProgress> SaveBulkChunkResultAsync(string tenantId, Guid bulkJobId, int chunkIndex, BulkChunkResult result,
        CancellationToken cancellationToken = default)
    {
        BulkStoreRules.CheckResult(result);
        CheckBulkChunk(chunkIndex, (long)result.Output.Length + result.Errors.Length);
        BulkStoreRules.CheckChunk(chunkIndex);
        await context.EnsureIndexesAsync(cancellationToken);
        var chunk = ChunkKey(tenantId, bulkJobId, chunkIndex);
        chunk["succeeded"] = result.Succeeded;
        chunk["failed"] = result.Failed;
        chunk["skipped"] = result.Skipped;
        chunk["output"] = new BsonBinaryData(result.Output.ToArray());
        chunk["errors"] = new BsonBinaryData(result.Errors.ToArray());
        var (inserted, stored) = await InsertChunkAsync(context.BulkResults, chunk, "succeeded", cancellationToken);

        // A repeat counts what was stored first, so the counters always match the lines that are copied out.
        var counts = stored ?? chunk;
        var update = BulkUpdate
            .Inc(d => d.Succeeded, (long)counts["succeeded"].ToInt32())
            .Inc(d => d.Failed, (long)counts["failed"].ToInt32())
            .Inc(d => d.ChunksDone, 1)
            .Inc(d => d.ChunksSkipped, counts["skipped"].ToBoolean() ? 1 : 0);
        return await CountChunkOnceAsync(tenantId, bulkJobId, ResultLedger, chunkIndex, update, context.BulkResults, inserted, cancellationToken);
    }

    /// <summary>Inserts a chunk document unless its (bulkId, index) is stored; then returns the stored one's counts.</summary>
    private static async Task<(bool Inserted, BsonDocument? Stored)> InsertChunkAsync(IMongoCollection<BsonDocument> chunks, BsonDocument chunk,
        string countField, CancellationToken cancellationToken)
    {
        try
        {
            await chunks.InsertOneAsync(chunk, cancellationToken: cancellationToken);
            return (true, null);
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
            var stored = await chunks.Find(ChunkKey(chunk["tenantId"], chunk["bulkId"], chunk["index"].AsInt32))
                .Project(Builders<BsonDocument>.Projection.Exclude("payload").Exclude("output").Exclude("errors"))
                .FirstOrDefaultAsync(cancellationToken);
            return (false, stored is not null && stored.Contains(countField) ? stored : null);
        }
    }

    /// <summary>Applies <paramref name="counts"/> to the job unless its ledger already holds this chunk, in one atomic
    /// single-document update; see the top of this file.</summary>
    private async Task<BulkProgress> CountChunkOnceAsync(string tenantId, Guid bulkJobId, string ledger, int chunkIndex, UpdateDefinition<BulkJobDocument> counts,
        IMongoCollection<BsonDocument> chunks, bool inserted, CancellationToken cancellationToken)
    {
        var (filter, update) = CountOnce(tenantId, bulkJobId, ledger, chunkIndex, counts);
        var counted = await context.BulkJobs.FindOneAndUpdateAsync(filter, update,
            new FindOneAndUpdateOptions<BulkJobDocument> { ReturnDocument = ReturnDocument.After, Projection = ProgressOnly },
            cancellationToken);
        if (counted is not null)
        {
            return counted.ToProgress(recorded: true);
        }

        try
        {
            return await ProgressAsync(tenantId, bulkJobId, cancellationToken);
        }
        catch (KeyNotFoundException) when (inserted)
        {
            // No such job: the chunk just inserted belongs to nothing.
            await chunks.DeleteOneAsync(ChunkKey(tenantId, bulkJobId, chunkIndex), CancellationToken.None);
            throw;
        }
    }

    /// <summary>Matches the job only while its ledger lacks the chunk, and adds the chunk to the ledger with the counts.</summary>
    internal static (FilterDefinition<BulkJobDocument> Filter, UpdateDefinition<BulkJobDocument> Update) CountOnce(string tenantId, Guid bulkJobId,
        string ledger, int chunkIndex, UpdateDefinition<BulkJobDocument> counts) =>
        (BulkFilter.And(BulkKeyIs(tenantId, bulkJobId), BulkFilter.Ne(ledger, chunkIndex)),
            BulkUpdate.Combine(counts, BulkUpdate.Push(ledger, chunkIndex)));

    private async Task<BulkProgress> ProgressAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken) =>
        (await FindBulkJobAsync(tenantId, bulkJobId, ProgressOnly, cancellationToken))?.ToProgress(recorded: false)
        ?? throw BulkStoreRules.UnknownJob(bulkJobId);

    public async Task CopyBulkResultsToAsync(string tenantId, Guid bulkJobId, BulkResultKind kind, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var field = BulkStoreRules.ResultField(kind);

        await context.EnsureIndexesAsync(cancellationToken);
        var job = await FindBulkJobAsync(tenantId, bulkJobId, WithoutLedgers, cancellationToken) ?? throw BulkStoreRules.UnknownJob(bulkJobId);
        if (job.OutputsExpiredAt is { } expired)
        {
            throw new StoredObjectExpiredException($"The results of bulk job {bulkJobId} were removed under its tenant's retention.",
                JobCursor.FromUtcTicks(expired));
        }

        // Small batches keep a few chunks in memory at a time, whatever the job's size.
        using var cursor = await context.BulkResults.FindAsync(
            DocKeyIs(tenantId, bulkJobId, "bulkId"),
            new FindOptions<BsonDocument>
            {
                Sort = Builders<BsonDocument>.Sort.Ascending("index"),
                Projection = Builders<BsonDocument>.Projection.Include(field).Exclude("_id"),
                BatchSize = 8,
            },
            cancellationToken);
        while (await cursor.MoveNextAsync(cancellationToken))
        {
            foreach (var chunk in cursor.Current)
            {
                if (chunk.GetValue(field, BsonNull.Value) is { IsBsonBinaryData: true } lines)
                {
                    await destination.WriteAsync(lines.AsBsonBinaryData.Bytes, cancellationToken);
                }
            }
        }
    }

    public async Task DeleteBulkChunkInputsAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);

        // The payloads go, the small documents stay: a late save of a chunk finds it and stores nothing again.
        await context.BulkInputs.UpdateManyAsync(
            Doc.And(DocKeyIs(tenantId, bulkJobId, "bulkId"), Doc.Exists("payload")),
            Builders<BsonDocument>.Update.Unset("payload"),
            cancellationToken: cancellationToken);
    }

    private static BsonDocument ChunkKey(string tenantId, Guid bulkJobId, int chunkIndex) => ChunkKey(tenantId, Id(bulkJobId), chunkIndex);

    private static BsonDocument ChunkKey(BsonValue tenantId, BsonValue bulkId, int chunkIndex) =>
        new() { ["tenantId"] = tenantId, ["bulkId"] = bulkId, ["index"] = chunkIndex };

    /// <summary>A chunk must fit in one document and the job's ledgers in the job's.</summary>
    internal static void CheckBulkChunk(int chunkIndex, long bytes)
    {
        if (chunkIndex >= MaxBulkChunks)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkIndex), chunkIndex,
                $"A bulk job in MongoDB holds at most {MaxBulkChunks} chunks: use larger chunks.");
        }

        if (bytes > MaxBulkChunkBytes)
        {
            throw new ArgumentException(
                $"A bulk chunk of {bytes} bytes does not fit in a MongoDB document (at most {MaxBulkChunkBytes} bytes): use smaller chunks.",
                nameof(bytes));
        }
    }
}
