using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What the MongoDB store writes and asks, checked without a server, so it is verified on every machine.</summary>
public sealed class MongoMappingTests
{
    private static readonly Guid JobId = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

    private static readonly JobRecord Job = new()
    {
        JobId = JobId,
        TenantId = "acme",
        Kind = JobKind.Predict,
        Model = "acme/iris",
        ModelVersion = 2,
        Status = JobStatus.Succeeded,
        SubmittedAt = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.FromHours(1)).AddTicks(5),
        CompletedAt = new DateTimeOffset(2026, 11, 22, 9, 0, 1, TimeSpan.Zero),
        Device = "cpu",
        Outputs = [TestTensors.Fp32("a.b", [1, 2], [-1.5f, float.Epsilon]), TestTensors.Of<long>("$ids", "INT64", [1, 2], [7L, long.MaxValue])],
    };

    public MongoMappingTests() => MongoMappings.EnsureRegistered();

    [Fact]
    public void JobsAreWrittenWithStandardGuidIdsStringEnumsAndTickTimes()
    {
        var bson = JobDocument.From(Job).ToBsonDocument();

        // Keyed by tenantId and jobId (ids are per tenant); the _id is the server's.
        Assert.False(bson.Contains("_id"));
        var id = bson["jobId"].AsBsonBinaryData;
        Assert.Equal(BsonBinarySubType.UuidStandard, id.SubType);
        Assert.Equal(JobId.ToByteArray(bigEndian: true), id.Bytes);
        Assert.Equal("acme", bson["tenantId"].AsString);
        Assert.Equal("Predict", bson["kind"].AsString);
        Assert.Equal("Succeeded", bson["status"].AsString);
        Assert.Equal(Job.SubmittedAt.UtcTicks, bson["submittedAt"].AsInt64);
        Assert.Equal(Job.CompletedAt!.Value.UtcTicks, bson["completedAt"].AsInt64);
        Assert.False(bson.Contains("startedAt"));
        Assert.False(bson.Contains("error"));
        var output = bson["outputs"].AsBsonArray[0].AsBsonDocument;
        Assert.Equal("a.b", output["name"].AsString);
        Assert.Equal("FP32", output["datatype"].AsString);
        Assert.Equal("$ids", bson["outputs"].AsBsonArray[1]["name"].AsString);
    }

    [Fact]
    public void JobsReadBackAsWritten()
    {
        var bson = JobDocument.From(Job).ToBsonDocument();

        var back = BsonSerializer.Deserialize<JobDocument>(bson).ToRecord();

        Assert.Equal(Job with { Outputs = null }, back with { Outputs = null });
        Assert.Equal(Job.Outputs!.Count, back.Outputs!.Count);
        foreach (var (written, read) in Job.Outputs.Zip(back.Outputs))
        {
            TestTensors.AssertSame(written, read);
        }
    }

    [Fact]
    public void AJobAnsweredFromTheResponseCacheIsMarkedAndOthersCarryNoMark()
    {
        var cached = JobDocument.From(Job with { Cached = true }).ToBsonDocument();

        Assert.True(cached["cached"].AsBoolean);
        Assert.True(BsonSerializer.Deserialize<JobDocument>(cached).ToRecord().Cached);
        Assert.False(JobDocument.From(Job).ToBsonDocument().Contains("cached"));
    }

    [Fact]
    public void InsertIfAbsentIsAnUpsertThatOnlySetsOnInsert()
    {
        var model = Assert.IsType<UpdateOneModel<JobDocument>>(MongoJobStore.InsertIfAbsentModel(Job));

        var update = model.Update.Render(Args()).AsBsonDocument;
        var filter = model.Filter.Render(Args());

        Assert.True(model.IsUpsert);
        Assert.Equal(["$setOnInsert"], update.Names);
        Assert.False(update["$setOnInsert"].AsBsonDocument.Contains("_id"));
        Assert.Equal("Succeeded", update["$setOnInsert"]["status"].AsString);
        Assert.Equal(new BsonDocument { ["tenantId"] = "acme", ["jobId"] = new BsonBinaryData(JobId, GuidRepresentation.Standard) }, filter);
    }

    [Fact]
    public void ABatchDropsRepeatsOfOneTenantsJobButKeepsTwoTenantsJobsOfOneId()
    {
        var globex = Job with { TenantId = "globex" };
        var later = Job with { Error = "later" };

        Assert.Equal([Job, globex], JobCursor.Distinct([Job, globex, later], keepLast: false));
        Assert.Equal([later, globex], JobCursor.Distinct([Job, globex, later], keepLast: true));
    }

    [Fact]
    public void ListAfterACursorAsksForOlderJobsOrSmallerIdsAtTheSameTime()
    {
        var cursor = JobCursor.Encode(Job);

        var filter = MongoJobStore.ListFilter(new JobQuery { Status = JobStatus.Failed, Model = "iris", Kind = JobKind.Train, Cursor = cursor })
            .Render(Args());

        var ticks = Job.SubmittedAt.UtcTicks;
        var id = new BsonBinaryData(JobId, GuidRepresentation.Standard);
        var expected = new BsonDocument
        {
            ["status"] = "Failed",
            ["model"] = "iris",
            ["kind"] = "Train",
            ["$or"] = new BsonArray
            {
                new BsonDocument("submittedAt", new BsonDocument("$lt", ticks)),
                new BsonDocument { ["submittedAt"] = ticks, ["jobId"] = new BsonDocument("$lt", id) },
            },
        };
        Assert.Equal(expected, filter);
        Assert.Equal(new BsonDocument(), MongoJobStore.ListFilter(new JobQuery()).Render(Args()));
    }

    private static readonly BulkJobRecord BulkJob = new()
    {
        BulkJobId = JobId,
        Model = "iris",
        ModelVersion = 3,
        Status = BulkJobStatus.Running,
        InputFileId = "file-1",
        Format = BulkInputFormat.JsonLines,
        SubmittedAt = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.FromHours(1)).AddTicks(3),
        StartedAt = new DateTimeOffset(2026, 11, 23, 10, 0, 1, TimeSpan.Zero),
        Total = 10_000_000_000,
        Succeeded = 7,
        Failed = 1,
        ChunksDone = 2,
        ChunksTotal = 5,
    };

    [Fact]
    public void BulkJobsAreWrittenWithStringEnumsAndTickTimesAndReadBackWithoutTheirLedgers()
    {
        var bson = BulkJobDocument.From(BulkJob).ToBsonDocument();

        Assert.Equal(BsonBinarySubType.UuidStandard, bson["jobId"].AsBsonBinaryData.SubType);
        Assert.Equal(("Running", "JsonLines"), (bson["status"].AsString, bson["format"].AsString));
        Assert.Equal(BulkJob.SubmittedAt.UtcTicks, bson["submittedAt"].AsInt64);
        Assert.Equal(10_000_000_000, bson["total"].AsInt64);
        Assert.False(bson.Contains("completedAt"));
        Assert.False(bson.Contains("chunkSize"));

        bson[MongoBulkStore.ResultLedger] = new BsonArray { 0, 1 };
        Assert.Equal(BulkJob, BsonSerializer.Deserialize<BulkJobDocument>(bson).ToRecord());
    }

    [Fact]
    public void AChunkIsCountedByOneUpdateThatMatchesOnlyWhileTheLedgerLacksIt()
    {
        var counts = Builders<BulkJobDocument>.Update.Inc(d => d.Succeeded, 4L).Inc(d => d.ChunksDone, 1);
        var (filter, update) = MongoBulkStore.CountOnce("acme", JobId, MongoBulkStore.ResultLedger, 3, counts);

        var id = new BsonBinaryData(JobId, GuidRepresentation.Standard);
        Assert.Equal(new BsonDocument { ["tenantId"] = "acme", ["jobId"] = id, ["resultChunks"] = new BsonDocument("$ne", 3) }, filter.Render(BulkArgs()));
        Assert.Equal(new BsonDocument
        {
            ["$inc"] = new BsonDocument { ["succeeded"] = 4L, ["chunksDone"] = 1 },
            ["$push"] = new BsonDocument("resultChunks", 3),
        }, update.Render(BulkArgs()).AsBsonDocument);
    }

    [Fact]
    public void EnteringRunningSetsTheStartOnlyWhereMissingAndTextsAreLiterals()
    {
        var running = MongoBulkStore.TransitionUpdate(BulkStoreRules.Transition(BulkJobStatus.Running, 42, 5, "$status", null)).Render(BulkArgs()).AsBsonArray;
        var set = Assert.Single(running).AsBsonDocument["$set"].AsBsonDocument;
        Assert.Equal(new BsonDocument("$literal", "Running"), set["status"]);
        Assert.Equal(new BsonDocument("$ifNull", new BsonArray { "$startedAt", new BsonDocument("$literal", 42L) }), set["startedAt"]);
        Assert.Equal(new BsonDocument("$literal", 5), set["modelVersion"]);
        Assert.Equal(new BsonDocument("$literal", "$status"), set["error"]);
        Assert.False(set.Contains("completedAt"));

        var final = Assert.Single(MongoBulkStore.TransitionUpdate(BulkStoreRules.Transition(BulkJobStatus.Cancelled, 43, 6, null, null)).Render(BulkArgs()).AsBsonArray)
            .AsBsonDocument["$set"].AsBsonDocument;
        Assert.Equal(["status", "completedAt", "error"], final.Names);
        Assert.Equal(new BsonDocument("$literal", BsonNull.Value), final["error"]);
    }

    [Fact]
    public void AChunkTooLargeForADocumentIsRefusedWithTheReason()
    {
        MongoBulkStore.CheckBulkChunk(MongoBulkStore.MaxBulkChunks - 1, MongoBulkStore.MaxBulkChunkBytes);
        var tooLarge = Assert.Throws<ArgumentException>(() => MongoBulkStore.CheckBulkChunk(0, MongoBulkStore.MaxBulkChunkBytes + 1L));
        Assert.Contains("smaller chunks", tooLarge.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => MongoBulkStore.CheckBulkChunk(MongoBulkStore.MaxBulkChunks, 1));
    }

    private static RenderArgs<BulkJobDocument> BulkArgs() =>
        new(BsonSerializer.LookupSerializer<BulkJobDocument>(), BsonSerializer.SerializerRegistry);

    [Fact]
    public void JobsStoredBeforeTenantsExistedReadAsTheDefaultTenants()
    {
        var bson = JobDocument.From(Job).ToBsonDocument();
        bson.Remove("tenantId");

        Assert.Equal(Tenants.DefaultTenantId, BsonSerializer.Deserialize<JobDocument>(bson).ToRecord().TenantId);
    }

    [Fact]
    public void TheDefaultTenantsListingAlsoMatchesJobsWithoutATenant()
    {
        var defaultTenant = MongoJobStore.ListFilter(new JobQuery { TenantId = Tenants.DefaultTenantId }).Render(Args());
        var otherTenant = MongoJobStore.ListFilter(new JobQuery { TenantId = "acme" }).Render(Args());

        Assert.Equal(new BsonDocument("tenantId", new BsonDocument("$in", new BsonArray { "default", BsonNull.Value })), defaultTenant);
        Assert.Equal(new BsonDocument("tenantId", "acme"), otherTenant);
    }

    private static RenderArgs<JobDocument> Args() =>
        new(BsonSerializer.LookupSerializer<JobDocument>(), BsonSerializer.SerializerRegistry);
}
