using System.Text.Json;
using System.Buffers.Binary;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using MongoDB.Bson;

namespace AIaaS.Queue.Store;

// The shapes MongoDB stores, mapped element by element in MongoMappings. The public records never reach the driver,
// so renaming a record property cannot silently change what is on disk.
// Times are UTC ticks (Int64): BSON dates hold milliseconds only, and paging, cursors and round-trips must be exact
// and the same as in the embedded store.

internal sealed class JobDocument
{
    public Guid Id { get; set; }

    /// <summary>Null in documents stored before tenants existed: they are the default tenant's.</summary>
    public string? TenantId { get; set; }
    public JobKind Kind { get; set; }
    public string Model { get; set; } = "";
    public int? ModelVersion { get; set; }
    public JobStatus Status { get; set; }
    public long SubmittedAt { get; set; }
    public long? StartedAt { get; set; }
    public long? CompletedAt { get; set; }
    public string? Device { get; set; }
    public int? BatchSize { get; set; }
    public string? BatchId { get; set; }
    public string? WorkerId { get; set; }
    public string? Error { get; set; }
    public string? CallbackUrl { get; set; }

    /// <summary>True for a job answered from a response cache; absent otherwise.</summary>
    public bool? Cached { get; set; }

    /// <summary>An array rather than a sub-document keyed by name: output names may hold '.' or start with '$'.</summary>
    public List<OutputDocument>? Outputs { get; set; }

    /// <summary>Set by the retention sweeper only; a job write never carries it.</summary>
    public long? PayloadExpiredAt { get; set; }
    /// <summary>JSON of <see cref="Explanation"/>: read and written whole, and left out wherever outputs are.</summary>
    public string? Explanation { get; set; }

    public static JobDocument From(JobRecord job) => new()
    {
        Id = job.JobId,
        TenantId = job.TenantId,
        Kind = job.Kind,
        Model = job.Model,
        ModelVersion = job.ModelVersion,
        Status = job.Status,
        SubmittedAt = job.SubmittedAt.UtcTicks,
        StartedAt = job.StartedAt?.UtcTicks,
        CompletedAt = job.CompletedAt?.UtcTicks,
        Device = job.Device,
        BatchSize = job.BatchSize,
        BatchId = job.BatchId,
        WorkerId = job.WorkerId,
        Error = job.Error,
        CallbackUrl = job.CallbackUrl,
        Cached = job.Cached ? true : null,
        Outputs = job.Outputs?.Select(OutputDocument.From).ToList(),
        Explanation = job.Explanation is null ? null : System.Text.Json.JsonSerializer.Serialize(job.Explanation, StoreJson.Options),
    };

    public JobRecord ToRecord() => new()
    {
        JobId = Id,
        TenantId = Tenants.OrDefault(TenantId),
        Kind = Kind,
        Model = Model,
        ModelVersion = ModelVersion,
        Status = Status,
        SubmittedAt = JobCursor.FromUtcTicks(SubmittedAt),
        StartedAt = StartedAt is { } started ? JobCursor.FromUtcTicks(started) : null,
        CompletedAt = CompletedAt is { } completed ? JobCursor.FromUtcTicks(completed) : null,
        Device = Device,
        BatchSize = BatchSize,
        BatchId = BatchId,
        WorkerId = WorkerId,
        Error = Error,
        CallbackUrl = CallbackUrl,
        Cached = Cached == true,
        Outputs = Outputs?.ConvertAll(o => o.ToTensor()),
        PayloadExpiredAt = PayloadExpiredAt is { } expired ? JobCursor.FromUtcTicks(expired) : null,
        Explanation = Explanation is null ? null : System.Text.Json.JsonSerializer.Deserialize<Explanation>(Explanation, StoreJson.Options),
    };
}

internal sealed class OutputDocument
{
    public string Name { get; set; } = "";

    /// <summary>Null in documents written before typed tensors, whose outputs were all FP32 in <see cref="Data"/>.</summary>
    public string? Datatype { get; set; }
    public long[] Shape { get; set; } = [];

    /// <summary>The tensor's data as its JSON text (flat, row-major), which keeps every datatype exactly.</summary>
    public string? Json { get; set; }

    /// <summary>Documents written before typed tensors: float32 little-endian, the shape without the batch dimension.</summary>
    public byte[]? Data { get; set; }

    public static OutputDocument From(InferTensor tensor) => new()
    {
        Name = tensor.Name,
        Datatype = tensor.Datatype,
        Shape = [.. tensor.Shape ?? []],
        Json = tensor.Data.GetRawText(),
    };

    public InferTensor ToTensor() => Datatype is null
        ? new InferTensor { Name = Name, Datatype = TensorDatatypes.Fp32, Shape = [1, .. Shape], Data = StoreJson.FloatsFromBytes(Data ?? []) }
        : new InferTensor { Name = Name, Datatype = Datatype, Shape = Shape, Data = JsonSerializer.Deserialize<JsonElement>(Json ?? "[]", StoreJson.Options) };
}

internal sealed class ModelDocument
{
    public ObjectId Id { get; set; }
    public string Name { get; set; } = "";
    public int Version { get; set; }
    public long CreatedAt { get; set; }
    public long SizeBytes { get; set; }
    public string Sha256 { get; set; } = "";
    public List<TensorSpecDocument> Inputs { get; set; } = [];
    public List<TensorSpecDocument> Outputs { get; set; } = [];
    public BatchingDocument? Batching { get; set; }
    public string? Description { get; set; }

    /// <summary>The GridFS file in bucket "models".</summary>
    public ObjectId FileId { get; set; }

    /// <summary>The train job that registered this version; unique where set, which makes registration idempotent.</summary>
    public Guid? TrainingJobId { get; set; }

    /// <summary>JSON of <see cref="ModelTrainingInfo"/>: read and written whole, never queried field by field.</summary>
    public string? Training { get; set; }

    /// <summary>JSON of <see cref="ModelRecipe"/>, read and written whole.</summary>
    public string? Recipe { get; set; }

    /// <summary>A text recipe's vocabulary; left out of every read but <see cref="IModelStore.GetVocabularyAsync"/>.</summary>
    public string? Vocabulary { get; set; }

    public bool HasVocabulary { get; set; }

    /// <summary>JSON of <see cref="ExplanationBackground"/> (at most 100 rows), read and written whole.</summary>
    public string? Background { get; set; }

    public ModelVersionRecord ToRecord() => new()
    {
        Name = Name,
        Version = Version,
        CreatedAt = JobCursor.FromUtcTicks(CreatedAt),
        SizeBytes = SizeBytes,
        Sha256 = Sha256,
        Inputs = Inputs.ConvertAll(i => i.ToSpec()),
        Outputs = Outputs.ConvertAll(o => o.ToSpec()),
        Batching = Batching?.ToSettings(),
        Description = Description,
        Training = Training is null ? null : System.Text.Json.JsonSerializer.Deserialize<ModelTrainingInfo>(Training, StoreJson.Options),
        Recipe = Recipe is null ? null : System.Text.Json.JsonSerializer.Deserialize<ModelRecipe>(Recipe, StoreJson.Options),
        HasVocabulary = HasVocabulary,
        Background = Background is null ? null : System.Text.Json.JsonSerializer.Deserialize<ExplanationBackground>(Background, StoreJson.Options),
    };
}

internal sealed class TensorSpecDocument
{
    public string Name { get; set; } = "";
    public string ElementType { get; set; } = "";
    public int[] Shape { get; set; } = [];
    public string? Datatype { get; set; }
    public string?[]? DimensionNames { get; set; }

    public static TensorSpecDocument From(TensorSpec spec) => new()
    {
        Name = spec.Name, ElementType = spec.ElementType, Shape = [.. spec.Shape], Datatype = spec.Datatype,
        DimensionNames = spec.DimensionNames?.ToArray(),
    };

    public TensorSpec ToSpec() => new() { Name = Name, ElementType = ElementType, Shape = Shape, Datatype = Datatype, DimensionNames = DimensionNames };
}

internal sealed class BatchingDocument
{
    public int? MaxBatchSize { get; set; }
    public double? MaxQueueDelayMilliseconds { get; set; }
    public bool? GroupByLength { get; set; }
    public bool? ResponseCache { get; set; }

    /// <summary>Per-input settings as JSON text: input names may hold '.' or start with '$', which BSON keys may not.</summary>
    public string? InputsJson { get; set; }

    public static BatchingDocument From(BatchingSettings settings) => new()
    {
        MaxBatchSize = settings.MaxBatchSize, MaxQueueDelayMilliseconds = settings.MaxQueueDelayMilliseconds,
        GroupByLength = settings.GroupByLength, ResponseCache = settings.ResponseCache,
        InputsJson = settings.Inputs is null ? null : JsonSerializer.Serialize(settings.Inputs, StoreJson.Options),
    };

    public BatchingSettings ToSettings() => new()
    {
        MaxBatchSize = MaxBatchSize, MaxQueueDelayMilliseconds = MaxQueueDelayMilliseconds, GroupByLength = GroupByLength,
        ResponseCache = ResponseCache,
        Inputs = InputsJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, InputBatching>>(InputsJson, StoreJson.Options),
    };
}

/// <summary>A bulk job. The stored document also holds the ledgers of counted chunks ("inputChunks", "resultChunks"),
/// written and matched by the store's updates only and never read into this class.</summary>
internal sealed class BulkJobDocument
{
    public Guid Id { get; set; }
    public string TenantId { get; set; } = Tenants.DefaultTenantId;
    public string Model { get; set; } = "";
    public int? ModelVersion { get; set; }
    public BulkJobStatus Status { get; set; }
    public string InputFileId { get; set; } = "";
    public BulkInputFormat? Format { get; set; }
    public int? ChunkSize { get; set; }
    public string? CallbackUrl { get; set; }
    public long? ExpiresAt { get; set; }
    public long SubmittedAt { get; set; }
    public long? StartedAt { get; set; }
    public long? CompletedAt { get; set; }
    public string? Error { get; set; }
    public long Total { get; set; }
    public long Succeeded { get; set; }
    public long Failed { get; set; }
    public int ChunksDone { get; set; }
    public int ChunksSkipped { get; set; }
    public int? ChunksTotal { get; set; }

    /// <summary>Set by the retention sweeper once the job's chunks are removed.</summary>
    public long? OutputsExpiredAt { get; set; }

    public static BulkJobDocument From(BulkJobRecord job) => new()
    {
        Id = job.BulkJobId,
        Model = job.Model,
        ModelVersion = job.ModelVersion,
        Status = job.Status,
        InputFileId = job.InputFileId,
        Format = job.Format,
        ChunkSize = job.ChunkSize,
        CallbackUrl = job.CallbackUrl,
        ExpiresAt = job.ExpiresAt?.UtcTicks,
        SubmittedAt = job.SubmittedAt.UtcTicks,
        StartedAt = job.StartedAt?.UtcTicks,
        CompletedAt = job.CompletedAt?.UtcTicks,
        Error = job.Error,
        Total = job.Total,
        Succeeded = job.Succeeded,
        Failed = job.Failed,
        ChunksDone = job.ChunksDone,
        ChunksTotal = job.ChunksTotal,
        ChunksSkipped = job.ChunksSkipped,
        TenantId = job.TenantId,
    };

    public BulkJobRecord ToRecord() => new()
    {
        BulkJobId = Id,
        Model = Model,
        ModelVersion = ModelVersion,
        Status = Status,
        InputFileId = InputFileId,
        Format = Format,
        ChunkSize = ChunkSize,
        CallbackUrl = CallbackUrl,
        ExpiresAt = ExpiresAt is { } expires ? JobCursor.FromUtcTicks(expires) : null,
        SubmittedAt = JobCursor.FromUtcTicks(SubmittedAt),
        StartedAt = StartedAt is { } started ? JobCursor.FromUtcTicks(started) : null,
        CompletedAt = CompletedAt is { } completed ? JobCursor.FromUtcTicks(completed) : null,
        Error = Error,
        Total = Total,
        Succeeded = Succeeded,
        Failed = Failed,
        ChunksDone = ChunksDone,
        ChunksTotal = ChunksTotal,
        ChunksSkipped = ChunksSkipped,
        TenantId = TenantId,
        OutputsExpiredAt = OutputsExpiredAt is { } expired ? JobCursor.FromUtcTicks(expired) : null,
    };

    public BulkProgress ToProgress(bool recorded) => new(recorded, ChunksDone, ChunksTotal, ChunksSkipped);
}
