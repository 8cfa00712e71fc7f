using AIaaS.Queue.Contracts;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.IdGenerators;
using MongoDB.Bson.Serialization.Serializers;

namespace AIaaS.Queue.Store;

/// <summary>Element names and serializers of the stored documents, registered once per process.</summary>
internal static class MongoMappings
{
    private static readonly Lazy<bool> Registered = new(RegisterAll, LazyThreadSafetyMode.ExecutionAndPublication);

    public static void EnsureRegistered() => _ = Registered.Value;

    private static bool RegisterAll()
    {
        // Standard (subtype 4, RFC 4122 byte order) set on the member, not through the obsolete global mode.
        var guid = new GuidSerializer(GuidRepresentation.Standard);

        // A job and a bulk job are keyed by tenantId and jobId (unique per tenant), not by _id: the _id is the server's (or,
        // in documents stored before ids were per tenant, the same JobId), never read.
        BsonClassMap.TryRegisterClassMap<JobDocument>(map =>
        {
            map.MapMember(d => d.Id).SetElementName("jobId").SetSerializer(guid);
            map.MapMember(d => d.TenantId).SetElementName("tenantId").SetIgnoreIfNull(true);
            map.MapMember(d => d.Kind).SetElementName("kind").SetSerializer(new EnumSerializer<JobKind>(BsonType.String));
            map.MapMember(d => d.Model).SetElementName("model");
            map.MapMember(d => d.ModelVersion).SetElementName("modelVersion").SetIgnoreIfNull(true);
            map.MapMember(d => d.Status).SetElementName("status").SetSerializer(new EnumSerializer<JobStatus>(BsonType.String));
            map.MapMember(d => d.SubmittedAt).SetElementName("submittedAt");
            map.MapMember(d => d.StartedAt).SetElementName("startedAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.CompletedAt).SetElementName("completedAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.Device).SetElementName("device").SetIgnoreIfNull(true);
            map.MapMember(d => d.BatchSize).SetElementName("batchSize").SetIgnoreIfNull(true);
            map.MapMember(d => d.BatchId).SetElementName("batchId").SetIgnoreIfNull(true);
            map.MapMember(d => d.WorkerId).SetElementName("workerId").SetIgnoreIfNull(true);
            map.MapMember(d => d.Error).SetElementName("error").SetIgnoreIfNull(true);
            map.MapMember(d => d.CallbackUrl).SetElementName("callbackUrl").SetIgnoreIfNull(true);
            map.MapMember(d => d.Cached).SetElementName("cached").SetIgnoreIfNull(true);
            map.MapMember(d => d.Outputs).SetElementName("outputs").SetIgnoreIfNull(true);
            map.MapMember(d => d.PayloadExpiredAt).SetElementName("payloadExpiredAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.Explanation).SetElementName("explanation").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        BsonClassMap.TryRegisterClassMap<OutputDocument>(map =>
        {
            map.MapMember(d => d.Name).SetElementName("name");
            map.MapMember(d => d.Datatype).SetElementName("datatype").SetIgnoreIfNull(true);
            map.MapMember(d => d.Shape).SetElementName("shape");
            map.MapMember(d => d.Json).SetElementName("json").SetIgnoreIfNull(true);
            map.MapMember(d => d.Data).SetElementName("data").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        BsonClassMap.TryRegisterClassMap<ModelDocument>(map =>
        {
            map.MapIdMember(d => d.Id).SetIdGenerator(ObjectIdGenerator.Instance);
            map.MapMember(d => d.Name).SetElementName("name");
            map.MapMember(d => d.Version).SetElementName("version");
            map.MapMember(d => d.CreatedAt).SetElementName("createdAt");
            map.MapMember(d => d.SizeBytes).SetElementName("sizeBytes");
            map.MapMember(d => d.Sha256).SetElementName("sha256");
            map.MapMember(d => d.Inputs).SetElementName("inputs");
            map.MapMember(d => d.Outputs).SetElementName("outputs");
            map.MapMember(d => d.Batching).SetElementName("batching").SetIgnoreIfNull(true);
            map.MapMember(d => d.Description).SetElementName("description").SetIgnoreIfNull(true);
            map.MapMember(d => d.FileId).SetElementName("fileId");
            map.MapMember(d => d.TrainingJobId).SetElementName("trainingJobId").SetIgnoreIfNull(true)
                .SetSerializer(new NullableSerializer<Guid>(guid));
            map.MapMember(d => d.Training).SetElementName("training").SetIgnoreIfNull(true);
            map.MapMember(d => d.Recipe).SetElementName("recipe").SetIgnoreIfNull(true);
            map.MapMember(d => d.Vocabulary).SetElementName("vocabulary").SetIgnoreIfNull(true);
            map.MapMember(d => d.HasVocabulary).SetElementName("hasVocabulary").SetIgnoreIfDefault(true);
            map.MapMember(d => d.Background).SetElementName("background").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        BsonClassMap.TryRegisterClassMap<TensorSpecDocument>(map =>
        {
            map.MapMember(d => d.Name).SetElementName("name");
            map.MapMember(d => d.ElementType).SetElementName("elementType");
            map.MapMember(d => d.Shape).SetElementName("shape");
            map.MapMember(d => d.Datatype).SetElementName("datatype").SetIgnoreIfNull(true);
            map.MapMember(d => d.DimensionNames).SetElementName("dimensionNames").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        BsonClassMap.TryRegisterClassMap<BatchingDocument>(map =>
        {
            map.MapMember(d => d.MaxBatchSize).SetElementName("maxBatchSize").SetIgnoreIfNull(true);
            map.MapMember(d => d.MaxQueueDelayMilliseconds).SetElementName("maxQueueDelayMilliseconds").SetIgnoreIfNull(true);
            map.MapMember(d => d.GroupByLength).SetElementName("groupByLength").SetIgnoreIfNull(true);
            map.MapMember(d => d.ResponseCache).SetElementName("responseCache").SetIgnoreIfNull(true);
            map.MapMember(d => d.InputsJson).SetElementName("inputs").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        BsonClassMap.TryRegisterClassMap<BulkJobDocument>(map =>
        {
            map.MapMember(d => d.Id).SetElementName("jobId").SetSerializer(guid);
            map.MapMember(d => d.TenantId).SetElementName("tenantId");
            map.MapMember(d => d.Model).SetElementName("model");
            map.MapMember(d => d.ModelVersion).SetElementName("modelVersion").SetIgnoreIfNull(true);
            map.MapMember(d => d.Status).SetElementName("status").SetSerializer(new EnumSerializer<BulkJobStatus>(BsonType.String));
            map.MapMember(d => d.InputFileId).SetElementName("inputFileId");
            map.MapMember(d => d.Format).SetElementName("format").SetIgnoreIfNull(true)
                .SetSerializer(new NullableSerializer<BulkInputFormat>(new EnumSerializer<BulkInputFormat>(BsonType.String)));
            map.MapMember(d => d.ChunkSize).SetElementName("chunkSize").SetIgnoreIfNull(true);
            map.MapMember(d => d.CallbackUrl).SetElementName("callbackUrl").SetIgnoreIfNull(true);
            map.MapMember(d => d.ExpiresAt).SetElementName("expiresAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.SubmittedAt).SetElementName("submittedAt");
            map.MapMember(d => d.StartedAt).SetElementName("startedAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.CompletedAt).SetElementName("completedAt").SetIgnoreIfNull(true);
            map.MapMember(d => d.Error).SetElementName("error").SetIgnoreIfNull(true);
            map.MapMember(d => d.Total).SetElementName("total");
            map.MapMember(d => d.Succeeded).SetElementName("succeeded");
            map.MapMember(d => d.Failed).SetElementName("failed");
            map.MapMember(d => d.ChunksDone).SetElementName("chunksDone");
            map.MapMember(d => d.ChunksSkipped).SetElementName("chunksSkipped");
            map.MapMember(d => d.ChunksTotal).SetElementName("chunksTotal").SetIgnoreIfNull(true);
            map.MapMember(d => d.OutputsExpiredAt).SetElementName("outputsExpiredAt").SetIgnoreIfNull(true);
            map.SetIgnoreExtraElements(true);
        });

        return true;
    }
}
