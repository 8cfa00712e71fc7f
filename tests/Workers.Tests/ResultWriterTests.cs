using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>The group commit of batch results: what finishes while a write runs goes in the next write, together, and a
/// tenant's JobId is never written twice in one write (so two batches of one redelivered job never both report it).</summary>
public sealed class ResultWriterTests
{
    private const int TestTimeout = 30_000;
    private static readonly int[] ExpectedWriteSizes = [2, 4];

    [Fact(Timeout = TestTimeout)]
    public async Task ResultsOfBatchesThatFinishWhileAWriteRunsAreStoredTogetherInTheNextWrite()
    {
        var store = new GatedStore();
        var writer = Writer(store);
        var first = writer.CompleteAsync([Record(), Record()]);
        await store.Started.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        JobRecord[] second = [Record()], third = [Record(), Record(), Record()];
        var secondWritten = writer.CompleteAsync(second);
        var thirdWritten = writer.CompleteAsync(third);

        store.Open();
        await Task.WhenAll(first, secondWritten, thirdWritten);

        Assert.Equal(ExpectedWriteSizes, store.Writes.Select(w => w.Count));
        var written = await thirdWritten;
        Assert.All(second.Concat(third), r => Assert.Contains(JobKey.Of(r), written));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task TwoBatchesHoldingOneJobIdNeverShareAWriteAndOnlyTheFirstIsToldItWroteIt()
    {
        var store = new GatedStore();
        var writer = Writer(store);
        var blocker = writer.CompleteAsync([Record()]);
        await store.Started.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var repeated = Record();
        var once = writer.CompleteAsync([repeated, Record()]);
        var again = writer.CompleteAsync([repeated with { WorkerId = "another" }]);

        store.Open();
        await Task.WhenAll(blocker, once, again);

        Assert.Equal(3, store.Writes.Count);
        Assert.Contains(JobKey.Of(repeated), await once);
        Assert.DoesNotContain(JobKey.Of(repeated), await again);
    }

    private static ResultWriter Writer(IJobStore store) => new(store, new StoreOutage(Options.Create(new WorkerOptions()), TimeProvider.System,
        new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance), NullLogger<StoreOutage>.Instance));

    private static JobRecord Record() => new()
    {
        JobId = Guid.NewGuid(),
        TenantId = "t",
        Kind = JobKind.Predict,
        Model = "m",
        Status = JobStatus.Succeeded,
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Completes as the stores do (a job already final keeps what it has); its first write waits until opened.</summary>
    private sealed class GatedStore : IJobStore
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<JobKey> _final = [];

        public List<List<JobRecord>> Writes { get; } = [];

        public Task Started => _started.Task;

        public void Open() => _open.TrySetResult();

        public async Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
        {
            lock (Writes)
            {
                Writes.Add([.. jobs]);
            }

            _started.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
            var written = new HashSet<JobKey>();
            foreach (var job in jobs)
            {
                if (_final.Add(JobKey.Of(job)))
                {
                    written.Add(JobKey.Of(job));
                }
            }

            return written;
        }

        public Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<IReadOnlyList<JobRecord>> GetManyAsync(IReadOnlyCollection<JobKey> keys, bool includeOutputs, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
