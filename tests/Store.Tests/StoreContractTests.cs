using System.Security.Cryptography;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>
/// What every store promises, one abstract suite per store interface (<see cref="JobStoreContractTests"/>,
/// <see cref="TrainingQueueContractTests"/>, ...), each run against every backend. A concrete suite gets the store's
/// concerns through the real registration (<see cref="StoreServices"/>), shared by the tests of the class; tests keep to
/// their own model names, tenants and ids (and far-future times where they list across models) so they never see each
/// other's data. Some promises span two concerns (a train job's row, a retention sweep's reach), so every suite can reach
/// every concern.
/// </summary>
public abstract class StoreContractTests : TimeLimitedTests
{
    protected abstract StoreServices Store { get; }

    protected IJobStore Jobs => Store.Jobs;
    protected IModelStore Models => Store.Models;
    protected IStoreHealth Health => Store.Health;
    protected ITrainingQueue Training => Store.TrainingQueue;
    protected IJobEventStore Events => Store.Events;
    protected IDatasetStore Datasets => Store.Datasets;
    protected IBulkStore Bulk => Store.Bulk;
    protected ITenantStore TenantStore => Store.Tenants;
    protected IWebhookStore Webhooks => Store.Webhooks;
    protected IRetentionStore Retention => Store.Retention;

    protected static string UniqueModel() => $"model-{Guid.NewGuid():N}";

    protected static JobRecord NewJob(
        string model, JobStatus status, DateTimeOffset? submittedAt = null, JobKind kind = JobKind.Predict, string tenantId = Tenants.DefaultTenantId) => new()
    {
        JobId = Guid.NewGuid(),
        TenantId = tenantId,
        Kind = kind,
        Model = model,
        Status = status,
        SubmittedAt = submittedAt ?? DateTimeOffset.UtcNow,
    };

    protected static NewModelVersion NewModel(string name) => new()
    {
        Name = name,
        Inputs = [new TensorSpec { Name = "features", ElementType = "float32", Shape = [-1, 4] }],
        Outputs =
        [
            new TensorSpec { Name = "label", ElementType = "int64", Shape = [-1] },
            new TensorSpec { Name = "probabilities", ElementType = "float32", Shape = [-1, 3] },
        ],
    };

    /// <summary>Newest first, ties by the id's RFC 4122 bytes, descending: the order both stores promise.</summary>
    protected static IEnumerable<JobRecord> NewestFirst(IEnumerable<JobRecord> jobs) => jobs
        .OrderByDescending(j => j.SubmittedAt.UtcTicks)
        .ThenByDescending(j => j.JobId.ToString("N"), StringComparer.Ordinal);

    protected static void AssertSameJob(JobRecord expected, JobRecord? actual)
    {
        Assert.NotNull(actual);

        // Record equality covers every field but the outputs and the explanation; DateTimeOffset compares instants.
        Assert.Equal(expected with { Outputs = null, Explanation = null }, actual with { Outputs = null, Explanation = null });
        Assert.Equal(JsonSerializer.Serialize(expected.Explanation), JsonSerializer.Serialize(actual.Explanation));
        if (expected.Outputs is null)
        {
            Assert.Null(actual.Outputs);
            return;
        }

        Assert.NotNull(actual.Outputs);
        Assert.Equal(expected.Outputs.Select(o => o.Name), actual.Outputs.Select(o => o.Name));
        foreach (var (tensor, stored) in expected.Outputs.Zip(actual.Outputs))
        {
            TestTensors.AssertSame(tensor, stored);
        }
    }

    protected static void AssertSameModel(ModelVersionRecord expected, ModelVersionRecord actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.SizeBytes, actual.SizeBytes);
        Assert.Equal(expected.Sha256, actual.Sha256);
        AssertSameSpecs(expected.Inputs, actual.Inputs);
        AssertSameSpecs(expected.Outputs, actual.Outputs);
        Assert.Equal(expected.Batching, actual.Batching);
        Assert.Equal(expected.Description, actual.Description);
    }

    protected static void AssertSameSpecs(IReadOnlyList<TensorSpec> expected, IReadOnlyList<TensorSpec> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].ElementType, actual[i].ElementType);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
        }
    }

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>A stream without Length or Seek, as an HTTP upload is: the store must not rely on either.</summary>
    protected sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        // Short reads, as a network stream gives.
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 70_000));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    protected static SubmitTrainJob NewTrainJob(string model) => new()
    {
        JobId = Guid.CreateVersion7(),
        Model = model,
        Dataset = new TrainingDataset { Columns = ["x", "y"], Rows = [["1", "a"], ["2", "b"]] },
        LabelColumn = "y",
        Hyperparameters = new TrainingHyperparameters { Epochs = 7, Optimizer = TrainingOptimizer.Sgd },
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Claims take the oldest job in the whole store, so each claim test starts from an empty train queue.</summary>
    protected async Task DrainTrainQueueAsync()
    {
        while (await Training.ClaimTrainJobAsync("drain", TimeSpan.FromMinutes(5), 100, cancellationToken: Ct) is { } claim)
        {
            await Training.FinishTrainJobAsync(claim.Request.TenantId, claim.Request.JobId, "drain", JobStatus.Failed, null, null, "drained", "drained", Ct);
        }
    }

    protected static string UniqueTenant() => $"t-{Guid.NewGuid():N}"[..30];

    protected static readonly DateTimeOffset FarFuture = new(2200, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected static WebhookDelivery NewDelivery(Guid jobId, string type, DateTimeOffset due) => new()
    {
        Id = $"msg_{jobId:N}_{type}",
        JobId = jobId,
        EventType = type,
        Url = "https://example.test/hook",
        Payload = $"{{\"type\":\"{type}\",\"data\":{{\"id\":\"{jobId}\"}}}}",
        CreatedAt = due.AddTicks(-1),
        NextAttemptAt = due,
    };

    protected static readonly DateTimeOffset LongAgo = new(2026, 1, 10, 8, 0, 0, TimeSpan.Zero);

    protected static JobRecord FinishedJob(string tenantId, DateTimeOffset completedAt, JobKind kind = JobKind.Predict, JobStatus status = JobStatus.Succeeded) =>
        NewJob(UniqueModel(), status, completedAt.AddMinutes(-1), kind, tenantId) with
        {
            ModelVersion = 1,
            CompletedAt = completedAt,
            Outputs = status == JobStatus.Succeeded ? [TestTensors.Fp32("y", [1, 3], [1f, 2f, 3f])] : null,
        };

    protected static BulkJobRecord RunningBulkJob(string tenantId, string inputFileId) => new()
    {
        BulkJobId = Guid.CreateVersion7(),
        TenantId = tenantId,
        Model = UniqueModel(),
        Status = BulkJobStatus.Running,
        InputFileId = inputFileId,
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    protected static async Task<int[]> SweepInBatchesAsync(Func<Task<SweepBatch>> sweep)
    {
        var counts = new List<int>();
        SweepBatch batch;
        do
        {
            batch = await sweep();
            counts.Add(batch.Count);
        }
        while (batch.Count > 0 && counts.Count < 20);

        return [.. counts];
    }
}
