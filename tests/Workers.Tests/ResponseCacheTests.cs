using System.Diagnostics.Metrics;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Inference;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The response cache of model versions registered with it: the predict consumer and the batcher under MassTransit's
/// in-memory harness, on the embedded store and a small real ONNX model. Model calls are counted where the batch executor
/// records them (<c>aiaas.batch.size</c>, before the results are stored), in this test's own meters.</summary>
public sealed class ResponseCacheTests : IAsyncLifetime
{
    private const int TestTimeout = 120_000;
    private static readonly TimeSpan Wait = WorkerHarness.Wait;
    private WorkerHarness _worker = null!;
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private MeterListener _modelCallListener = null!;
    private long _modelCalls;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _worker = await WorkerHarness.StartAsync();
        _provider = _worker.Services;
        _harness = _worker.Harness;
        _modelCallListener = CountModelCalls(_provider.GetRequiredService<IMeterFactory>());
    }

    public async ValueTask DisposeAsync()
    {
        _modelCallListener.Dispose();
        await _worker.DisposeAsync();
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ARepeatedJobIsAnsweredFromTheCacheWithTheSameOutputsAndNoModelCall()
    {
        var model = await RegisterAsync("cached", responseCache: true);
        var first = await RunAsync(Job(model, [0.5f, -1, 2, 3]));

        var repeat = await RunAsync(Job(model, [0.5f, -1, 2, 3]));

        Assert.False(first.Cached);
        Assert.True(repeat.Cached);
        Assert.Equal(JobStatus.Succeeded, repeat.Status);
        Assert.Equal(Json(first.Outputs), Json(repeat.Outputs));
        Assert.Null(repeat.BatchId);
        Assert.Equal(1, ModelCalls);
        var metrics = _provider.GetRequiredService<AiaasMetrics>();
        Assert.Equal((1, 1, 0.5), (metrics.ResponseCacheHits, metrics.ResponseCacheMisses, metrics.ResponseCacheHitRatio));
        Assert.True(await _harness.Published.Any<PredictBatchCompleted>(
            m => m.Context.Message.FromResponseCache && m.Context.Message.Jobs.Any(j => j.JobId == repeat.JobId), Ct));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ADifferentInputIsNotAnsweredFromTheCache()
    {
        var model = await RegisterAsync("cached-different", responseCache: true);
        await RunAsync(Job(model, [0.5f, -1, 2, 3]));

        var other = await RunAsync(Job(model, [0.5f, -1, 2, 3.0001f]));
        var askingForOneOutput = await RunAsync(Job(model, [0.5f, -1, 2, 3]) with { Outputs = [new RequestedOutput { Name = OutputName() }] });

        Assert.False(other.Cached);
        Assert.False(askingForOneOutput.Cached);
        Assert.Equal(3, ModelCalls);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task TwoTenantsWithIdenticalInputsNeverShareAnEntry()
    {
        var acme = await TenantKeyAsync("acme");
        var globex = await TenantKeyAsync("globex");
        await RegisterAsync("shared-name", responseCache: true, tenantId: "acme");
        await RegisterAsync("shared-name", responseCache: true, tenantId: "globex");
        float[] features = [1, 2, 3, 4];

        var acmeFirst = await RunAsync(Job("shared-name", features, acme));
        var globexFirst = await RunAsync(Job("shared-name", features, globex));
        var acmeRepeat = await RunAsync(Job("shared-name", features, acme));
        var globexRepeat = await RunAsync(Job("shared-name", features, globex));

        Assert.Equal((false, false), (acmeFirst.Cached, globexFirst.Cached));
        Assert.Equal((true, true), (acmeRepeat.Cached, globexRepeat.Cached));
        Assert.Equal(("acme", "globex"), (acmeRepeat.TenantId, globexRepeat.TenantId));
        Assert.Equal(2, ModelCalls);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task TheKeyNamesTheTenantAndAnEntryIsNeverHandedToAnotherTenant()
    {
        var name = await RegisterAsync("keyed", responseCache: true);
        using var lease = await _provider.GetRequiredService<ModelCache>().RentAsync(name, null, Ct);
        var model = lease.Model;
        var job = Job(name, [1, 2, 3, 4]);
        var (request, error) = RequestPreparer.Prepare(model, job, InputLimits.Default);
        Assert.Null(error);
        var cache = _provider.GetRequiredService<ResponseCache>();

        var acmeKey = cache.KeyFor(model, "acme", job, request!)!;
        cache.Add("acme", acmeKey, [Tensor("y", 3)]);

        Assert.NotEqual(acmeKey, cache.KeyFor(model, "globex", job, request!));
        Assert.Equal(acmeKey, cache.KeyFor(model, "acme", job with { JobId = Guid.NewGuid() }, request!));
        Assert.NotNull(cache.Find(model, "acme", acmeKey));
        Assert.Null(cache.Find(model, "globex", acmeKey));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task AModelVersionWithoutTheOptInNeverCaches()
    {
        var model = await RegisterAsync("not-cached", responseCache: false);
        await RunAsync(Job(model, [0.5f, -1, 2, 3]));

        var repeat = await RunAsync(Job(model, [0.5f, -1, 2, 3]));

        Assert.False(repeat.Cached);
        Assert.Equal(2, ModelCalls);
        Assert.Equal(0, _provider.GetRequiredService<ResponseCache>().Count);
        var metrics = _provider.GetRequiredService<AiaasMetrics>();
        Assert.Equal(0, metrics.ResponseCacheHits + metrics.ResponseCacheMisses);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task TheByteBoundEvictsTheLeastRecentlyUsedAndRefusesWhatCouldNeverFit()
    {
        var entrySize = ResponseCache.SizeOf(Key(0), [Tensor("y", 100)]);
        using var cache = new ResponseCache(Options.Create(new WorkerOptions { ResponseCacheBytes = 3 * entrySize }),
            _provider.GetRequiredService<AiaasMetrics>());
        using var lease = await _provider.GetRequiredService<ModelCache>().RentAsync(await RegisterAsync("bounded", responseCache: true), null, Ct);
        var model = lease.Model;
        for (var i = 0; i < 3; i++)
        {
            cache.Add("t", Key(i), [Tensor("y", 100)]);
            await Task.Delay(5, Ct); // distinct last-access times, so that which is least recently used is certain
        }

        Assert.NotNull(cache.Find(model, "t", Key(0))); // the first entry is now the most recently used
        cache.Add("t", Key(3), [Tensor("y", 100)]);   // over the bound: turned away, and a compaction starts
        await WaitUntilAsync(() => cache.Count < 3);

        Assert.NotNull(cache.Find(model, "t", Key(0)));
        Assert.Null(cache.Find(model, "t", Key(1)));
        Assert.InRange(cache.Bytes, 0, 3 * entrySize);
        cache.Add("t", Key(4), [Tensor("y", 10 * 100)]);
        Assert.Null(cache.Find(model, "t", Key(4)));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task AnAnswerFromTheCacheWaitsOutAStoreOutageAndReturnsOnlyOnceStored()
    {
        var name = await RegisterAsync("outage", responseCache: true);
        using var lease = await _provider.GetRequiredService<ModelCache>().RentAsync(name, null, Ct);
        var model = lease.Model;
        var job = Job(name, [1, 2, 3, 4]);
        var (request, _) = RequestPreparer.Prepare(model, job, InputLimits.Default);
        var cache = _provider.GetRequiredService<ResponseCache>();
        cache.Add(Tenants.DefaultTenantId, cache.KeyFor(model, Tenants.DefaultTenantId, job, request!)!, [Tensor("y", 3)]);
        var store = new StoreDownForTwoWrites(_provider.GetRequiredService<IJobStore>());
        var outage = new StoreOutage(Options.Create(new WorkerOptions()), TimeProvider.System,
            _provider.GetRequiredService<IHostApplicationLifetime>(), NullLogger<StoreOutage>.Instance);
        await using var answers = new CachedAnswers(cache, store, _harness.Bus, outage, Options.Create(new WorkerOptions()), TimeProvider.System,
            _provider.GetRequiredService<AiaasMetrics>(), _provider.GetRequiredService<IHostApplicationLifetime>(), NullLogger<CachedAnswers>.Instance);

        var (answered, _) = await answers.TryAnswerAsync(model, Tenants.DefaultTenantId, job, request!);

        Assert.True(answered);
        Assert.Equal(3, store.Attempts);
        var stored = await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, job.JobId, Ct);
        Assert.Equal((JobStatus.Succeeded, true), (stored?.Status, stored?.Cached));
    }

    [Fact(Timeout = TestTimeout)]
    public void OnlyJobsThatSucceededAndWereStoredFillTheCache()
    {
        var cache = _provider.GetRequiredService<ResponseCache>();
        PendingPrediction[] predictions = [.. Enumerable.Range(0, 3).Select(i => Pending(Key(i)))];
        JobRecord[] records =
        [
            Record(predictions[0], JobStatus.Succeeded), Record(predictions[1], JobStatus.Failed), Record(predictions[2], JobStatus.Succeeded),
        ];

        cache.Fill(predictions, records, stored: [0, 1]);

        Assert.Equal(1, cache.Count);
    }

    private static string Key(int i) => $"{i:D64}";

    /// <summary>The embedded store, but its first two completions fail as a store outage would.</summary>
    private sealed class StoreDownForTwoWrites(IJobStore store) : IJobStore
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) =>
            Interlocked.Increment(ref _attempts) <= 2 ? throw new IOException("store down") : store.CompleteAsync(jobs, cancellationToken);

        public Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) =>
            store.InsertIfAbsentAsync(jobs, cancellationToken);

        public Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) =>
            store.UpsertAsync(jobs, cancellationToken);

        public Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default) =>
            store.GetAsync(tenantId, jobId, cancellationToken);

        public Task<IReadOnlyList<JobRecord>> GetManyAsync(IReadOnlyCollection<JobKey> keys, bool includeOutputs,
            CancellationToken cancellationToken = default) => store.GetManyAsync(keys, includeOutputs, cancellationToken);

        public Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default) =>
            store.CountAsync(model, status, limit, cancellationToken);

        public Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default) => store.ListAsync(query, cancellationToken);
    }

    private static InferTensor Tensor(string name, int length) => new()
    {
        Name = name,
        Datatype = TensorDatatypes.Fp32,
        Shape = [1, length],
        Data = JsonSerializer.SerializeToElement(Enumerable.Range(0, length).Select(i => i * 0.125f).ToArray()),
    };

    private static PendingPrediction Pending(string key) =>
        new(Job("m", [1, 2, 3, 4]), "t", new PreparedRequest([], 1, "", 0, null)) { ResponseCacheKey = key };

    private static JobRecord Record(PendingPrediction prediction, JobStatus status) => new()
    {
        JobId = prediction.Job.JobId,
        TenantId = prediction.TenantId,
        Kind = JobKind.Predict,
        Model = "m",
        Status = status,
        SubmittedAt = prediction.Job.SubmittedAt,
        Outputs = [Tensor("y", 3)],
    };

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(Wait);
        while (!condition())
        {
            await Task.Delay(10, limit.Token);
        }
    }

    /// <summary>Publishes the job and answers its stored record once its message is consumed (stored first, then acknowledged).</summary>
    private async Task<JobRecord> RunAsync(SubmitPredictJob job)
    {
        await _harness.Bus.Publish(job, Ct);
        Assert.True(await _harness.Consumed.Any<SubmitPredictJob>(m => m.Context.Message.JobId == job.JobId, Ct));
        var record = await _provider.GetRequiredService<IJobStore>().GetAsync(Tenants.OrDefault(job.Sender?.TenantId), job.JobId, Ct);
        Assert.NotNull(record);
        Assert.True(record.IsFinal, $"job {job.JobId} is {record.Status}: {record.Error}");
        return record;
    }

    private long ModelCalls => Interlocked.Read(ref _modelCalls);

    /// <summary>Counts the batch sizes recorded by this test's own meters (other tests run in parallel with theirs).</summary>
    private MeterListener CountModelCalls(IMeterFactory meters)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "aiaas.batch.size")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref _modelCalls));
        listener.Start();
        return listener;
    }

    private static string Json(IReadOnlyList<InferTensor>? outputs) => JsonSerializer.Serialize(outputs);

    private static string OutputName() => OnnxModelInspector.Inspect(TestModels.Classifier().Onnx).Outputs[0].Name;

    private async Task<string> TenantKeyAsync(string tenantId)
    {
        var tenants = _provider.GetRequiredService<ITenantStore>();
        await tenants.CreateTenantAsync(new TenantRecord { Id = tenantId, CreatedAt = DateTimeOffset.UtcNow }, Ct);
        var (key, keyId) = ApiKeyFormat.Generate(tenantId);
        await tenants.AddApiKeyAsync(new ApiKeyRecord
        {
            KeyId = keyId, TenantId = tenantId, Sha256 = ApiKeyFormat.Hash(key), CreatedAt = DateTimeOffset.UtcNow,
        }, Ct);
        return key;
    }

    private async Task<string> RegisterAsync(string name, bool responseCache, string tenantId = Tenants.DefaultTenantId)
    {
        var (_, onnx) = TestModels.Classifier();
        var signature = OnnxModelInspector.Inspect(onnx);
        using var file = new MemoryStream(onnx);
        await _provider.GetRequiredService<IModelStore>().AddVersionAsync(new NewModelVersion
        {
            Name = Tenants.QualifyModel(tenantId, name),
            Inputs = signature.Inputs,
            Outputs = signature.Outputs,
            // Batches of one, so that every model call is one job's.
            Batching = new BatchingSettings { MaxBatchSize = 1, MaxQueueDelayMilliseconds = 0, ResponseCache = responseCache },
        }, file, Ct);
        return name;
    }

    private static SubmitPredictJob Job(string model, float[] features, string? apiKey = null)
    {
        var id = Guid.CreateVersion7();
        return new SubmitPredictJob
        {
            JobId = id,
            Model = model,
            Features = features,
            SubmittedAt = DateTimeOffset.UtcNow,
            Sender = apiKey is null ? null : ApiKeyFormat.Credentials(apiKey, ApiKeyFormat.PredictPurpose, id),
        };
    }
}
